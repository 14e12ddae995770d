"""Refund amounts of an after-sale (DESIGN §6.3, §7): `quote_refund(...) -> RefundQuote`.

Pure: the caller passes the priced order as stored at checkout (`PricedOrder`, with each line's
discount allocations), what earlier refunds already took, and the units asked for now. Amounts
come from the stored allocations, never from the client. Money is integer fen.

Rules:

1. Paid value of a line = unit list price × quantity − Σ the line's allocated discounts (满减,
   coupon, item discounts; `PricedLine.allocations`). It must equal the stored `paid_fen`.
2. Units are refunded by a cumulative floor. After K of the line's n units have been refunded
   (earlier requests and this one together) the line has refunded ⌊paid × K / n⌋ fen in total —
   the same proportional floor as a package's value (`models.domain.shipping.package_value`). So
   a request for k units, after K₀ units and R₀ fen were already refunded on the line, gets
       amount = ⌊paid × (K₀ + k) / n⌋ − R₀   (never below 0).
   The request that takes the LAST units (K₀ + k = n) gets exactly paid − R₀, the remainder
   (⌊paid × n / n⌋ = paid), so the refunds of a line sum to its paid value to the fen, and no
   prefix ever sums to more.
   When every earlier refund followed this rule, the amount refunded after K units is the same
   whatever order the requests came in and however the units were split between them; a history
   made by another floor (per-package `package_value`) only makes later amounts catch up.
3. Gift lines (满赠) are priced 0 with no allocations, so they refund 0 fen — but their units
   still count for rule 4.
4. Freight is refunded only by the request that completes the order: afterwards every unit of
   every line, gift lines included, has been refunded (history + this request). Partial
   after-sales never refund freight; since a completed order accepts no further request,
   freight is refunded at most once.
5. Coupons are returned (`return_coupons`) only on that same completing request, and only if the
   order used one.
6. Never more than was paid: `total_fen` = min(goods + freight, payable − every refund already
   made on the order), where `already_refunded_fen` counts earlier after-sales AND the package
   refunds the order workflow made itself (lost or short parcels). `capped` says when this bit.
   Line amounts stay the goods value of the units (uncapped): they are what `LineHistory.
   refunded_fen` accumulates, so rule 2 keeps working; the cap only limits the money.
7. Quantities: a request names at least one line (`EmptyRefundRequestError`), each a line of
   the order (`UnknownRefundLineError`), once, for 0 < units ≤ bought − already taken
   (`RefundQuantityError`, naming the line, the SKU and the numbers).

`LineHistory` per line: units taken by earlier after-sales that are not rejected or closed, plus
units refunded by package refunds, and the fen their quotes assigned to the line (rule 2). A
history or order that contradicts itself is `RefundInputError` — a bug, not a customer mistake.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Annotated, Protocol

from pydantic import BaseModel, ConfigDict, Field

from models.contracts.order import PackageLine
from models.contracts.pricing import PricedLine
from models.domain.shipping import package_value

Fen = Annotated[int, Field(ge=0)]
Units = Annotated[int, Field(ge=0)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class RefundRequestLine(_Frozen):
    """Units of one order line the customer asks to refund. The quantity is checked by
    `quote_refund` (≤ 0 is a `RefundQuantityError` naming the line, not a validation error)."""

    line_no: int
    quantity: int


class LineHistory(_Frozen):
    """What earlier refunds already took from one line: units and the fen assigned to them."""

    line_no: int
    refunded_quantity: Units = 0
    refunded_fen: Fen = 0


class RefundLineAmount(_Frozen):
    line_no: int
    sku_id: int
    quantity: int
    amount_fen: Fen


class RefundQuote(_Frozen):
    """`goods_fen` = Σ line amounts; `freight_fen` is the order's freight on the completing
    request, else 0; `total_fen` is the money to refund, after the cap (rule 6)."""

    lines: tuple[RefundLineAmount, ...]
    goods_fen: Fen
    freight_fen: Fen
    total_fen: Fen
    completes_order: bool
    return_coupons: bool
    capped: bool


class RefundError(Exception):
    """Base of the refund rules' errors."""


class UnknownRefundLineError(RefundError):
    def __init__(self, line_no: int) -> None:
        self.line_no = line_no
        super().__init__(f"order has no line {line_no}")


class RefundQuantityError(RefundError):
    """A requested quantity the line cannot give; `reason` says why."""

    REASONS = ("not_positive", "line_repeated", "exceeds_available")

    def __init__(
        self,
        reason: str,
        line_no: int,
        sku_id: int,
        requested: int,
        bought: int,
        already_refunded: int,
    ) -> None:
        self.reason = reason
        self.line_no = line_no
        self.sku_id = sku_id
        self.requested = requested
        self.bought = bought
        self.already_refunded = already_refunded
        self.available = bought - already_refunded
        super().__init__(
            f"{reason}: line {line_no} (SKU {sku_id}) asked {requested} units; {bought} bought, "
            f"{already_refunded} already refunded, at most {self.available} refundable"
        )


class EmptyRefundRequestError(RefundError):
    def __init__(self) -> None:
        super().__init__("a refund names at least one line")


class RefundInputError(RefundError):
    """The stored order or the refund history contradicts itself (a bug or corrupt data)."""


def line_paid_fen(line: PricedLine) -> int:
    """Unit list price × quantity − Σ the line's allocated discounts (rule 1)."""
    paid = line.unit_price_fen * line.quantity - sum(a.amount_fen for a in line.allocations)
    if paid != line.paid_fen or paid < 0:
        raise RefundInputError(
            f"line {line.line_no}: paid {line.paid_fen} fen stored, {paid} from its allocations"
        )
    return paid


def value_of_units(line: PricedLine, units: int) -> int:
    """What the customer paid for `units` units of the line: ⌊paid × units / quantity⌋, the
    same proportional floor as a package's value."""
    part = PackageLine(line_no=line.line_no, sku_id=line.sku_id, quantity=units)
    return package_value([line], [part])


class Priced(Protocol):
    """What a refund needs of the priced order: the stored quote or the pricing result."""

    @property
    def lines(self) -> Sequence[PricedLine]: ...
    @property
    def coupon_id(self) -> int | None: ...
    @property
    def freight_fen(self) -> int: ...
    @property
    def payable_fen(self) -> int: ...


def quote_refund(
    order: Priced,
    request: Sequence[RefundRequestLine],
    history: Sequence[LineHistory] = (),
    already_refunded_fen: int = 0,
) -> RefundQuote:
    """The amounts of one after-sale; see the module docstring for the rules."""
    lines = {line.line_no: line for line in order.lines}
    taken = history_by_line(lines, history)
    check_quantities(lines, request, taken)
    if already_refunded_fen < 0 or already_refunded_fen > order.payable_fen:
        raise RefundInputError(
            f"{already_refunded_fen} fen already refunded on an order paying {order.payable_fen}"
        )
    amounts = tuple(refund_line(lines[part.line_no], part.quantity, taken) for part in request)
    asked = {part.line_no: part.quantity for part in request}
    completes = all(
        taken[no].refunded_quantity + asked.get(no, 0) == line.quantity
        for no, line in lines.items()
    )
    goods = sum(amount.amount_fen for amount in amounts)
    freight = order.freight_fen if completes else 0
    remaining = order.payable_fen - already_refunded_fen
    return RefundQuote(
        lines=amounts,
        goods_fen=goods,
        freight_fen=freight,
        total_fen=min(goods + freight, remaining),
        completes_order=completes,
        return_coupons=completes and order.coupon_id is not None,
        capped=goods + freight > remaining,
    )


def history_by_line(
    lines: dict[int, PricedLine], history: Sequence[LineHistory]
) -> dict[int, LineHistory]:
    """Every line's history (empty when none given), checked against the order."""
    repeated = [no for no, count in Counter(h.line_no for h in history).items() if count > 1]
    if repeated:
        raise RefundInputError(f"history names lines {sorted(repeated)} more than once")
    taken = {no: LineHistory(line_no=no) for no in lines}
    for entry in history:
        line = lines.get(entry.line_no)
        if line is None:
            raise RefundInputError(f"history names line {entry.line_no}, not on the order")
        if entry.refunded_quantity > line.quantity or entry.refunded_fen > line_paid_fen(line):
            raise RefundInputError(
                f"line {line.line_no}: history has {entry.refunded_quantity} units and "
                f"{entry.refunded_fen} fen refunded of {line.quantity} units, {line.paid_fen} fen"
            )
        taken[entry.line_no] = entry
    return taken


def check_quantities(
    lines: dict[int, PricedLine],
    request: Sequence[RefundRequestLine],
    taken: dict[int, LineHistory],
) -> None:
    """Rule 7: a non-empty request, each line known, once, for 0 < quantity ≤ what is left."""
    if not request:
        raise EmptyRefundRequestError
    seen: set[int] = set()
    for part in request:
        line = lines.get(part.line_no)
        if line is None:
            raise UnknownRefundLineError(part.line_no)
        already = taken[part.line_no].refunded_quantity
        reason = quantity_problem(part.quantity, part.line_no in seen, line.quantity - already)
        if reason is not None:
            raise RefundQuantityError(
                reason,
                line_no=line.line_no,
                sku_id=line.sku_id,
                requested=part.quantity,
                bought=line.quantity,
                already_refunded=already,
            )
        seen.add(part.line_no)


def quantity_problem(quantity: int, repeated: bool, available: int) -> str | None:
    """The `RefundQuantityError.reason` for one requested line, or None when it is fine."""
    if quantity <= 0:
        return "not_positive"
    if repeated:
        return "line_repeated"
    if quantity > available:
        return "exceeds_available"
    return None


def refund_line(line: PricedLine, quantity: int, taken: dict[int, LineHistory]) -> RefundLineAmount:
    """Rule 2: the line's cumulative floor after this request minus what it already refunded.
    The last units get the remainder because ⌊paid × n / n⌋ = paid; a gift line's paid value is
    0, so it refunds 0 (rule 3)."""
    line_paid_fen(line)
    before = taken[line.line_no]
    units = before.refunded_quantity + quantity
    amount = max(0, value_of_units(line, units) - before.refunded_fen)
    return RefundLineAmount(
        line_no=line.line_no, sku_id=line.sku_id, quantity=quantity, amount_fen=amount
    )


def split_across_payments(amount_fen: int, balance_left_fen: int, deposit_left_fen: int) -> int:
    """A presale's order (DESIGN §6.8) paid twice, a deposit then the balance: a refund goes on
    the balance first, the rest on the deposit, neither more than is left of what it paid.
    Returns the part on the balance (the rest, `amount_fen` minus it, goes on the deposit);
    RefundInputError when both together cannot take `amount_fen`."""
    if amount_fen < 0 or balance_left_fen < 0 or deposit_left_fen < 0:
        raise RefundInputError("amounts are never negative")
    if amount_fen > balance_left_fen + deposit_left_fen:
        raise RefundInputError(
            f"{amount_fen} fen is more than the {balance_left_fen} fen left on the balance and "
            f"the {deposit_left_fen} fen left on the deposit"
        )
    return min(amount_fen, balance_left_fen)
