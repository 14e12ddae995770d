"""Purchasing rules in units (DESIGN §5, §6.5): receipts and PO figures, in-transit,
replenishment (智能采购) and stock counts (盘点). The money side — approval tiers, three-way
match, payable, due date — is `models.domain.settlement`.

Receipts and figures, per PO line, in units:
- every receipt line: received = accepted + rejected (QC splits what arrived);
- open = max(0, ordered − accepted): rejected units do NOT reduce it — the supplier still owes
  them until the PO closes; a purchase return does not reopen a line (it is a credit);
- over = max(0, accepted − ordered), so ordered + over = accepted + open on every line;
- tolerance: a line accepts at most ordered + max(`units`, ⌊ordered × `percent` / 100⌋) over all
  receipts; only accepted units count (rejected ones go back to the supplier);
- returned ≤ received (what is sent back must have arrived);
- goods not on the PO (samples, gifts) are `ReceiptExtra`s: zero-cost, outside the line figures.

In-transit. An open PO line keeps exactly its `open` units in transit: sending adds `ordered`, a
receipt removes what it took off `open` (over-delivery and rejected units remove nothing), and
closing — fully received, closed short or auto-closed — releases what is still open.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field

Fen = Annotated[int, Field(ge=0)]
Units = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(gt=0)]
CloseReason = Literal["fully_received", "closed_short", "auto_closed"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class PoLine(_Frozen):
    line_no: Positive
    sku_id: int
    warehouse_id: int
    quantity: Positive
    unit_price_fen: Fen


class OverDeliveryTolerance(_Frozen):
    percent: Annotated[int, Field(ge=0, le=100)] = 0
    units: Units = 0

    def max_accepted(self, ordered: int) -> int:
        return ordered + max(self.units, ordered * self.percent // 100)


class _Batch(_Frozen):
    sku_id: int
    batch_no: str = ""
    production_date: date | None = None
    expiry_date: date | None = None


class ReceiptLine(_Batch):
    line_no: int
    received: Positive
    accepted: Units
    rejected: Units


class ReceiptExtra(_Batch):
    """Goods not on the PO, received at zero cost."""

    quantity: Positive
    kind: Literal["sample", "gift"] = "sample"


class Receipt(_Frozen):
    lines: tuple[ReceiptLine, ...] = ()
    extras: tuple[ReceiptExtra, ...] = ()


class ReturnLine(_Frozen):
    line_no: int
    quantity: Positive


class _Counts(_Frozen):
    ordered: int
    received: int = 0
    accepted: int = 0
    rejected: int = 0
    returned: int = 0


class LineFigures(_Counts):
    line_no: int
    sku_id: int
    warehouse_id: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def open(self) -> int:
        return max(0, self.ordered - self.accepted)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def over(self) -> int:
        return max(0, self.accepted - self.ordered)


class FigureTotals(_Counts):
    """Sums over the lines. `open` and `over` are sums of the lines' own (one line's over-delivery
    does not fill another's gap), so ordered + over = accepted + open holds here too."""

    open: int
    over: int


class PoFigures(_Frozen):
    """Per-line figures and their sums; `extras` counts units received off the PO."""

    lines: tuple[LineFigures, ...]
    extras: int = 0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def totals(self) -> FigureTotals:
        names = ("ordered", "received", "accepted", "rejected", "returned", "open", "over")
        return FigureTotals(**{name: sum(getattr(ln, name) for ln in self.lines) for name in names})

    @computed_field  # type: ignore[prop-decorator]
    @property
    def fully_received(self) -> bool:
        return all(line.open == 0 for line in self.lines)


class InvalidReceiptError(Exception):
    """A receipt or return naming unknown lines, wrong SKUs or impossible quantities."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class OverDelivery(_Frozen):
    line_no: int
    sku_id: int
    ordered: int
    received: int
    accepted: int
    incoming: int
    max_accepted: int

    def __str__(self) -> str:
        return (
            f"PO line {self.line_no} (SKU {self.sku_id}): ordered {self.ordered}, received "
            f"{self.received} (accepted {self.accepted}) so far, this receipt accepts "
            f"{self.incoming}, at most {self.max_accepted} may be accepted in all"
        )


class OverDeliveryError(Exception):
    """Receipt lines that would take a PO line past its over-delivery tolerance."""

    def __init__(self, lines: list[OverDelivery]) -> None:
        self.lines = lines
        super().__init__("over-delivery beyond tolerance: " + "; ".join(map(str, lines)))


class InTransitChange(_Frozen):
    """Units leaving `in_transit` of (sku, warehouse) for one PO line."""

    line_no: int
    sku_id: int
    warehouse_id: int
    quantity: Positive


class ReceiptOutcome(_Frozen):
    figures: PoFigures
    in_transit_removed: tuple[InTransitChange, ...]


def empty_figures(po_lines: Sequence[PoLine]) -> PoFigures:
    """The figures of a PO nothing has been received for yet."""
    numbers = [line.line_no for line in po_lines]
    if not numbers or len(set(numbers)) != len(numbers):
        raise ValueError(f"a PO needs lines with distinct numbers, got {numbers}")
    ids = {"line_no", "sku_id", "warehouse_id"}
    return PoFigures(
        lines=tuple(
            LineFigures(ordered=line.quantity, **line.model_dump(include=ids))
            for line in sorted(po_lines, key=lambda line: line.line_no)
        )
    )


def check_receipt(
    figures: PoFigures, receipt: Receipt, tolerance: OverDeliveryTolerance | None
) -> None:
    """`InvalidReceiptError` listing every structural problem, else `OverDeliveryError` naming
    every line the receipt would take past its tolerance (None: no limit)."""
    known = {line.line_no: line.sku_id for line in figures.lines}
    problems = [] if receipt.lines or receipt.extras else ["the receipt has no lines"]
    for line in receipt.lines:
        name = f"receipt line for PO line {line.line_no} (SKU {line.sku_id})"
        if line.line_no not in known:
            problems.append(f"{name}: the PO has no such line; receive it as an extra")
        elif known[line.line_no] != line.sku_id:
            problems.append(f"{name}: the PO line is SKU {known[line.line_no]}")
        if line.accepted + line.rejected != line.received:
            problems.append(
                f"{name}: received {line.received} ≠ accepted {line.accepted} "
                f"+ rejected {line.rejected}"
            )
    for batch in [*receipt.lines, *receipt.extras]:
        made, expires = batch.production_date, batch.expiry_date
        if made and expires and expires < made:
            problems.append(
                f"SKU {batch.sku_id} batch {batch.batch_no!r}: expiry {expires} is before "
                f"production {made}"
            )
    if problems:
        raise InvalidReceiptError(problems)
    incoming = _sums(receipt)[1]
    over = [
        OverDelivery(
            **line.model_dump(include={"line_no", "sku_id", "ordered", "received", "accepted"}),
            incoming=incoming[line.line_no],
            max_accepted=tolerance.max_accepted(line.ordered),
        )
        for line in figures.lines
        if tolerance is not None
        and incoming[line.line_no]
        and line.accepted + incoming[line.line_no] > tolerance.max_accepted(line.ordered)
    ]
    if over:
        raise OverDeliveryError(over)


def _sums(receipt: Receipt) -> tuple[Counter[int], Counter[int], Counter[int]]:
    """Received, accepted and rejected units the receipt brings per PO line."""
    received, accepted, rejected = Counter[int](), Counter[int](), Counter[int]()
    for part in receipt.lines:
        received[part.line_no] += part.received
        accepted[part.line_no] += part.accepted
        rejected[part.line_no] += part.rejected
    return received, accepted, rejected


def in_transit_removed(ordered: int, accepted_before: int, accepted_now: int) -> int:
    """Units a receipt takes off a line's in-transit: what it takes off `open`."""
    return max(0, ordered - accepted_before) - max(0, ordered - accepted_before - accepted_now)


def apply_receipt(
    figures: PoFigures, receipt: Receipt, tolerance: OverDeliveryTolerance | None
) -> ReceiptOutcome:
    """Check `receipt`, then the PO figures after it and the in-transit it removes per line."""
    check_receipt(figures, receipt, tolerance)
    received, accepted, rejected = _sums(receipt)
    lines, removed = [], []
    for now in figures.lines:
        no = now.line_no
        lines.append(
            now.model_copy(
                update={
                    "received": now.received + received[no],
                    "accepted": now.accepted + accepted[no],
                    "rejected": now.rejected + rejected[no],
                }
            )
        )
        if quantity := in_transit_removed(now.ordered, now.accepted, accepted[no]):
            removed.append(_change(now, quantity))
    extras = figures.extras + sum(extra.quantity for extra in receipt.extras)
    return ReceiptOutcome(
        figures=PoFigures(lines=tuple(lines), extras=extras), in_transit_removed=tuple(removed)
    )


def apply_return(figures: PoFigures, returned: Sequence[ReturnLine]) -> PoFigures:
    """The figures after a purchase return, refused if a line would return more than arrived."""
    known = {line.line_no: line for line in figures.lines}
    wanted = Counter[int]()
    for part in returned:
        wanted[part.line_no] += part.quantity
    problems = [] if returned else ["the return has no lines"]
    for no, quantity in wanted.items():
        if no not in known:
            problems.append(f"return line for PO line {no}: the PO has no such line")
        elif known[no].returned + quantity > known[no].received:
            problems.append(
                f"return for PO line {no} (SKU {known[no].sku_id}): {quantity} more would "
                f"exceed received {known[no].received} (returned {known[no].returned} so far)"
            )
    if problems:
        raise InvalidReceiptError(problems)
    lines = tuple(
        line.model_copy(update={"returned": line.returned + wanted[line.line_no]})
        for line in figures.lines
    )
    return figures.model_copy(update={"lines": lines})


def po_figures(
    po_lines: Sequence[PoLine], receipts: Sequence[Receipt], returned: Sequence[ReturnLine] = ()
) -> PoFigures:
    """Figures recomputed from a PO's history: receipts (already accepted, so the tolerance is
    not checked again) then every return line."""
    figures = empty_figures(po_lines)
    for receipt in receipts:
        figures = apply_receipt(figures, receipt, None).figures
    return apply_return(figures, returned) if returned else figures


def closing_release(figures: PoFigures) -> list[InTransitChange]:
    """In-transit released when the PO closes (any `CloseReason`): every line's open units."""
    return [_change(line, line.open) for line in figures.lines if line.open]


def _change(line: LineFigures, quantity: int) -> InTransitChange:
    ids = line.model_dump(include={"line_no", "sku_id", "warehouse_id"})
    return InTransitChange(**ids, quantity=quantity)


def replenishment_quantity(
    *,
    sellable: int,
    in_transit: int,
    reorder_point: int,
    reorder_level: int,
    purchase_unit: int = 1,
    moq: int = 0,
) -> int:
    """Units to draft for one SKU in one warehouse. Position = sellable + in_transit (sellable
    may be negative). Position ≥ reorder point → 0. Otherwise reorder level − position, rounded
    up to whole purchase units (units per case), and at least `moq` units rounded up the same way.
    So a non-zero result is a multiple of `purchase_unit`, ≥ `moq`, and lifts position to the
    reorder level or above."""
    if in_transit < 0 or reorder_point < 0 or moq < 0 or purchase_unit < 1:
        raise ValueError("in-transit, reorder point and MOQ must be ≥ 0, purchase unit ≥ 1")
    if reorder_level < reorder_point:
        raise ValueError(f"reorder level {reorder_level} is below reorder point {reorder_point}")
    position = sellable + in_transit
    if position >= reorder_point:
        return 0
    need = max(reorder_level - position, moq)
    return -(-need // purchase_unit) * purchase_unit


class CountEntry(_Frozen):
    location_id: int
    sku_id: int
    batch_no: str = ""  # '' for goods that are not batch-managed, as in location_stocks
    quantity: Units


class CountDifference(_Frozen):
    location_id: int
    sku_id: int
    batch_no: str
    book: int
    counted: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def difference(self) -> int:
        return self.counted - self.book

    @computed_field  # type: ignore[prop-decorator]
    @property
    def kind(self) -> Literal["surplus", "deficit"]:
        return "surplus" if self.difference > 0 else "deficit"


def count_differences(
    book: Iterable[CountEntry], counted: Iterable[CountEntry]
) -> list[CountDifference]:
    """盘盈 (surplus) / 盘亏 (deficit) per (location, sku, batch), sorted by that key; equal
    figures are omitted. A count covers whole locations: a book row nobody counted was counted
    0; a counted row the book lacks had 0. Counted rows for one key add up (several scans);
    a book key twice is an error."""
    books, counts = Counter[tuple[int, int, str]](), Counter[tuple[int, int, str]]()
    for entry in book:
        key = (entry.location_id, entry.sku_id, entry.batch_no)
        if key in books:
            raise ValueError(f"book quantity twice for (location, SKU, batch) {key}")
        books[key] = entry.quantity
    for entry in counted:
        counts[entry.location_id, entry.sku_id, entry.batch_no] += entry.quantity
    return [
        CountDifference(
            location_id=key[0], sku_id=key[1], batch_no=key[2], book=books[key], counted=counts[key]
        )
        for key in sorted(books.keys() | counts.keys())
        if books[key] != counts[key]
    ]
