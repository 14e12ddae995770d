"""Money side of purchasing (DESIGN §6.5, §6.6): approval tiers by PO amount, the three-way
match of a supplier invoice, the payable, and the due date from payment terms. Integer fen.

Approval. A PO of amount A needs every role of the tier with the largest `min_amount_fen` ≤ A.
Tiers start at 0, have distinct thresholds, and each includes the roles of the one below (a larger
PO never needs fewer approvals). Separation of duties: the approver must hold the role; one user
approves at most one role of a PO; the user who drafted the PO and the user who submitted it
approve none (four eyes), whatever roles they hold.
Rejecting needs a reason and a user holding one of the required roles.

Three-way match (PO price × receipts vs invoice), per PO line, at the PO's unit price p:
- expected = p × received: the supplier bills what it delivered, rejected units included;
- credit = p × returned: every purchase return — QC-rejected or found defective later — is
  credited at the PO price (`models.domain.purchasing`: returned ≤ received);
- invoiced = Σ quantity × unit price of the invoice lines naming that PO line (all invoices of
  the PO together);
- a line is within tolerance when |invoiced − expected| ≤ max(`fen`, ⌊expected × `basis_points`
  / 10000⌋); the total is held to the same rule on the totals, so many small line differences
  can still fail the match;
- a line outside tolerance lists a quantity mismatch, (invoiced qty − received) × p, and/or a
  price mismatch, invoiced − invoiced qty × p — together exactly its difference;
- an invoice line with money on it naming no PO line, or a PO line of another SKU, is "not on
  PO"; a PO line with money expected and no invoice line is "not invoiced" — both whatever the
  tolerance;
- matched = no discrepancy. Payable = max(0, invoiced total − credit total); credit beyond the
  invoice is `unapplied_credit_fen`, left for the supplier's next payable. So when rejected goods
  are returned, payable = p × (what was kept).

Payment terms. `net N`: invoice date + N days. `month-end + N` (月结N天): last day of the invoice's
month + N days. Calendar days; weekends and holidays are not skipped.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from itertools import pairwise
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from models.domain.purchasing import LineFigures, PoFigures, PoLine

Fen = Annotated[int, Field(ge=0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


# --- Approval ------------------------------------------------------------------------------


class ApprovalTier(_Frozen):
    min_amount_fen: Fen
    roles: frozenset[str] = Field(min_length=1)


class ApprovalPolicy(_Frozen):
    tiers: tuple[ApprovalTier, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _covering_and_growing(self) -> Self:
        tiers = sorted(self.tiers, key=lambda tier: tier.min_amount_fen)
        if tiers[0].min_amount_fen != 0:
            raise ValueError("the lowest approval tier must start at 0 fen")
        for lower, upper in pairwise(tiers):
            if lower.min_amount_fen == upper.min_amount_fen:
                raise ValueError(f"two approval tiers start at {lower.min_amount_fen} fen")
            if not lower.roles <= upper.roles:
                raise ValueError(
                    f"the tier from {upper.min_amount_fen} fen lacks roles "
                    f"{sorted(lower.roles - upper.roles)} of the tier below"
                )
        return self


class ApprovalError(Exception):
    """An approval or rejection the PO must refuse; the message says why."""


class ApprovalProgress(_Frozen):
    required: frozenset[str]
    approved_by: dict[str, int]
    missing: frozenset[str]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def approved(self) -> bool:
        return not self.missing


def required_roles(amount_fen: int, policy: ApprovalPolicy) -> frozenset[str]:
    """The roles that must each approve a PO worth `amount_fen`."""
    if amount_fen < 0:
        raise ValueError(f"a PO amount cannot be negative: {amount_fen} fen")
    tiers = [tier for tier in policy.tiers if tier.min_amount_fen <= amount_fen]
    return max(tiers, key=lambda tier: tier.min_amount_fen).roles


def approval_progress(required: frozenset[str], approvals: Mapping[str, int]) -> ApprovalProgress:
    """Which required roles have approved (role → user id) and which are missing."""
    unexpected = sorted(set(approvals) - required)
    if unexpected:
        raise ApprovalError(f"roles {unexpected} are not required for this PO")
    _check_distinct_users(approvals)
    return ApprovalProgress(
        required=required, approved_by=dict(approvals), missing=required - set(approvals)
    )


def _check_distinct_users(approvals: Mapping[str, int]) -> None:
    roles_of: dict[int, list[str]] = {}
    for role, user in approvals.items():
        roles_of.setdefault(user, []).append(role)
    twice = {user: sorted(roles) for user, roles in roles_of.items() if len(roles) > 1}
    if twice:
        raise ApprovalError(f"one user may approve one role only: {twice}")


def check_approval(
    required: frozenset[str],
    approvals: Mapping[str, int],
    *,
    role: str,
    user_id: int,
    user_roles: frozenset[str],
    submitted_by: int | None = None,
    drafted_by: int | None = None,
) -> None:
    """Refuse `user_id` approving as `role` unless every rule of the module docstring holds."""
    if role not in required:
        raise ApprovalError(f"role {role!r} is not required (required: {sorted(required)})")
    if role in approvals:
        raise ApprovalError(f"role {role!r} already approved by user {approvals[role]}")
    if role not in user_roles:
        raise ApprovalError(f"user {user_id} does not hold role {role!r}")
    if user_id == submitted_by:
        raise ApprovalError(f"user {user_id} submitted this PO and cannot approve it")
    if user_id == drafted_by:
        raise ApprovalError(f"user {user_id} drafted this PO and cannot approve it")
    done = sorted(r for r, user in approvals.items() if user == user_id)
    if done:
        raise ApprovalError(f"user {user_id} already approved as {done}; one role per user")


def check_rejection(
    required: frozenset[str], *, user_id: int, user_roles: frozenset[str], reason: str
) -> None:
    if not required & user_roles:
        raise ApprovalError(f"user {user_id} holds none of the roles {sorted(required)}")
    if not reason.strip():
        raise ApprovalError("a rejection needs a reason")


# --- Three-way match ------------------------------------------------------------------------

DiscrepancyKind = Literal[
    "quantity_mismatch", "price_mismatch", "not_on_po", "not_invoiced", "total_mismatch"
]


class MatchTolerance(_Frozen):
    fen: Fen = 0
    basis_points: Annotated[int, Field(ge=0, le=10_000)] = 0

    def allowed(self, expected_fen: int) -> int:
        return max(self.fen, expected_fen * self.basis_points // 10_000)


class InvoiceLine(_Frozen):
    line_no: int | None  # the PO line it bills; None for goods the PO does not name
    sku_id: int
    quantity: Annotated[int, Field(gt=0)]
    unit_price_fen: Fen

    @property
    def amount_fen(self) -> int:
        return self.quantity * self.unit_price_fen


class MatchLine(_Frozen):
    line_no: int
    sku_id: int
    unit_price_fen: int
    received: int
    invoiced_quantity: int
    expected_fen: int
    invoiced_fen: int
    credit_fen: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def difference_fen(self) -> int:
        return self.invoiced_fen - self.expected_fen


class Discrepancy(_Frozen):
    kind: DiscrepancyKind
    line_no: int | None
    sku_id: int | None
    difference_fen: int  # invoiced − expected for this part
    message: str


class MatchResult(_Frozen):
    lines: tuple[MatchLine, ...]
    discrepancies: tuple[Discrepancy, ...]
    expected_fen: int
    invoiced_fen: int
    credit_fen: int
    payable_fen: int
    unapplied_credit_fen: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def matched(self) -> bool:
        return not self.discrepancies


def three_way_match(
    po_lines: Sequence[PoLine],
    figures: PoFigures,
    invoice: Sequence[InvoiceLine],
    tolerance: MatchTolerance,
) -> MatchResult:
    """Match `invoice` against the PO's prices and received figures; see the module docstring."""
    prices = {line.line_no: line.unit_price_fen for line in po_lines}
    if set(prices) != {line.line_no for line in figures.lines}:
        raise ValueError(f"figures are not of these PO lines {sorted(prices)}")
    on_po = {line.line_no: line.sku_id for line in figures.lines}
    billed: dict[int, list[InvoiceLine]] = {no: [] for no in on_po}
    stray = []
    for part in invoice:
        if part.line_no is not None and on_po.get(part.line_no) == part.sku_id:
            billed[part.line_no].append(part)
        elif part.amount_fen:
            stray.append(part)
    lines = [_match_line(ln, prices[ln.line_no], billed[ln.line_no]) for ln in figures.lines]
    found = [d for line in lines for d in _line_discrepancies(line, tolerance)]
    found += [_not_on_po(part, on_po) for part in stray]
    expected = sum(line.expected_fen for line in lines)
    invoiced = sum(i.amount_fen for i in invoice)
    credit = sum(line.credit_fen for line in lines)
    if abs(invoiced - expected) > tolerance.allowed(expected):
        message = f"invoice total {invoiced} fen vs {expected} fen expected"
        found.append(
            Discrepancy(
                kind="total_mismatch",
                line_no=None,
                sku_id=None,
                difference_fen=invoiced - expected,
                message=message,
            )
        )
    return MatchResult(
        lines=tuple(lines),
        discrepancies=tuple(found),
        expected_fen=expected,
        invoiced_fen=invoiced,
        credit_fen=credit,
        payable_fen=max(0, invoiced - credit),
        unapplied_credit_fen=max(0, credit - invoiced),
    )


def _match_line(line: LineFigures, price: int, billed: list[InvoiceLine]) -> MatchLine:
    return MatchLine(
        line_no=line.line_no,
        sku_id=line.sku_id,
        unit_price_fen=price,
        received=line.received,
        invoiced_quantity=sum(i.quantity for i in billed),
        expected_fen=price * line.received,
        invoiced_fen=sum(i.amount_fen for i in billed),
        credit_fen=price * line.returned,
    )


def _line_discrepancies(line: MatchLine, tolerance: MatchTolerance) -> list[Discrepancy]:
    name = f"PO line {line.line_no} (SKU {line.sku_id})"
    if line.invoiced_quantity == 0:
        if not line.expected_fen:
            return []
        message = f"{name}: received {line.received}, worth {line.expected_fen} fen, not invoiced"
        return [_discrepancy("not_invoiced", line, -line.expected_fen, message)]
    if abs(line.difference_fen) <= tolerance.allowed(line.expected_fen):
        return []
    found = []
    quantity_part = (line.invoiced_quantity - line.received) * line.unit_price_fen
    if quantity_part:
        message = f"{name}: invoiced {line.invoiced_quantity} units, received {line.received}"
        found.append(_discrepancy("quantity_mismatch", line, quantity_part, message))
    price_part = line.difference_fen - quantity_part
    if price_part:
        message = (
            f"{name}: invoiced {line.invoiced_fen} fen for {line.invoiced_quantity} units, "
            f"{line.invoiced_quantity * line.unit_price_fen} fen at the PO price "
            f"{line.unit_price_fen} fen"
        )
        found.append(_discrepancy("price_mismatch", line, price_part, message))
    return found


def _discrepancy(kind: DiscrepancyKind, line: MatchLine, fen: int, message: str) -> Discrepancy:
    return Discrepancy(
        kind=kind, line_no=line.line_no, sku_id=line.sku_id, difference_fen=fen, message=message
    )


def _not_on_po(line: InvoiceLine, on_po: Mapping[int, int]) -> Discrepancy:
    where = "names no PO line"
    if line.line_no is not None:
        where = (
            f"names PO line {line.line_no}, which is SKU {on_po[line.line_no]}"
            if line.line_no in on_po
            else f"names PO line {line.line_no}, which does not exist"
        )
    return Discrepancy(
        kind="not_on_po",
        line_no=line.line_no,
        sku_id=line.sku_id,
        difference_fen=line.amount_fen,
        message=f"invoice line for SKU {line.sku_id}, {line.amount_fen} fen, {where}",
    )


# --- Payment terms --------------------------------------------------------------------------


class PaymentTerms(_Frozen):
    basis: Literal["net", "month_end"]
    days: Annotated[int, Field(ge=0)]

    def __str__(self) -> str:
        return f"net {self.days}" if self.basis == "net" else f"month-end + {self.days}"


_TERMS = (
    ("net", re.compile(r"net\s*(\d+)(?:\s*days?)?", re.IGNORECASE)),
    (
        "month_end",
        re.compile(r"(?:month[- ]?end|eom)(?:\s*\+\s*(\d+))?(?:\s*days?)?", re.IGNORECASE),
    ),
    ("month_end", re.compile(r"月结\s*(\d+)?\s*天?")),
)


def parse_payment_terms(text: str) -> PaymentTerms:
    """`net 30`, `NET60`, `month-end + 30`, `EOM+30`, `月结30天`, `月结` (month-end + 0)."""
    for basis, pattern in _TERMS:
        if found := pattern.fullmatch(text.strip()):
            return PaymentTerms.model_validate({"basis": basis, "days": int(found[1] or 0)})
    raise ValueError(f"unknown payment terms {text!r}; use 'net N' or 'month-end + N'")


def due_date(invoice_date: date, terms: PaymentTerms) -> date:
    """The day a payable falls due under `terms` for an invoice dated `invoice_date`."""
    start = invoice_date
    if terms.basis == "month_end":
        last = calendar.monthrange(invoice_date.year, invoice_date.month)[1]
        start = invoice_date.replace(day=last)
    return start + timedelta(days=terms.days)
