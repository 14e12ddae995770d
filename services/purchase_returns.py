"""Purchase returns (采购退货): goods sent back to the supplier, booked in one transaction with
the caller's (the API's) audit row: stock out of its location and batch through the ledger,
the PO line's returned figure, and a credit against the supplier in the money ledger.

Units QC rejected at receipt never went on hand: returning them (a line without a location)
moves no stock, only the document and the credit. A return is once per client return key."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.db import (
    MoneyEntry,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseReturn,
    PurchaseReturnLine,
    SupplierInvoice,
)
from services.stock_ledger import BatchRef, Document, StockError, move_on_hand

OPEN_FOR_RETURNS = ("receiving", "closed")


@dataclass(frozen=True)
class ReturnLine:
    line_no: int
    quantity: int
    location_id: int | None = None  # None: units QC rejected, never on hand
    batch_no: str = ""


@dataclass(frozen=True)
class Booked:
    return_no: str
    credit_fen: int
    duplicate: bool


async def book_return(
    session: AsyncSession,
    *,
    po_no: str,
    return_key: str,
    warehouse_id: int,
    lines: list[ReturnLine],
    reason: str,
    actor: str,
) -> Booked:
    """Raises StockError (field named) when the return cannot be taken; nothing is written then."""
    po = await session.get(PurchaseOrder, po_no, with_for_update=True)
    if po is None:
        raise StockError(f"no purchase order {po_no}", field="po_no", conflict=False)
    done = await session.scalar(
        select(PurchaseReturn).where(
            PurchaseReturn.po_no == po_no, PurchaseReturn.return_key == return_key
        )
    )
    if done is not None:
        return Booked(done.return_no, done.credit_fen, duplicate=True)
    if po.status not in OPEN_FOR_RETURNS:
        raise StockError(f"purchase order {po_no} is {po.status}: nothing to return")
    if await session.get(SupplierInvoice, po_no) is not None:
        raise StockError(f"purchase order {po_no} is invoiced: ask the supplier for a credit note")
    rows = {
        row.line_no: row
        for row in await session.scalars(
            select(PurchaseOrderLine).where(PurchaseOrderLine.po_no == po_no).with_for_update()
        )
    }
    count = await session.scalar(
        select(func.count()).select_from(PurchaseReturn).where(PurchaseReturn.po_no == po_no)
    )
    return_no = f"RT{po_no[2:]}{int(count or 0) + 1:02d}"
    credit = 0
    for n, line in enumerate(lines):
        row = rows.get(line.line_no)
        where = f"lines.{n}"
        if row is None:
            raise StockError(f"PO {po_no} has no line {line.line_no}", field=where, conflict=False)
        if row.warehouse_id != warehouse_id:
            raise StockError(f"PO line {line.line_no} is for warehouse {row.warehouse_id}",
                             field=where)  # fmt: skip
        if row.returned + line.quantity > row.received:
            raise StockError(
                f"PO line {line.line_no}: returning {line.quantity} more than received "
                f"{row.received} (returned {row.returned} so far)",
                field=where,
            )
        if line.location_id is None:
            rejected_back = await _rejected_returned(session, po_no, line.line_no)
            if rejected_back + line.quantity > row.rejected:
                raise StockError(
                    f"PO line {line.line_no}: only {row.rejected - rejected_back} rejected units "
                    "are left to return without a location",
                    field=where,
                )
        else:
            await move_on_hand(
                session,
                movement_type="purchase_return_out",
                sku_id=row.sku_id,
                warehouse_id=warehouse_id,
                batch=BatchRef(line.location_id, line.batch_no),
                quantity=line.quantity,
                doc=Document("purchase_return", return_no, actor, reason, f"{return_no}:{n}"),
            )
        row.returned += line.quantity
        credit += line.quantity * row.unit_price_fen
        session.add(
            PurchaseReturnLine(
                return_no=return_no,
                line_no=line.line_no,
                sku_id=row.sku_id,
                quantity=line.quantity,
                location_id=line.location_id,
                batch_no=line.batch_no,
            )
        )
    session.add(
        PurchaseReturn(
            return_no=return_no,
            po_no=po_no,
            return_key=return_key,
            warehouse_id=warehouse_id,
            reason=reason,
            credit_fen=credit,
            actor=actor,
        )
    )
    session.add(
        MoneyEntry(po_no=po_no, entry_type="supplier_credit", amount_fen=-credit, ref_no=return_no)
    )
    await session.flush()
    return Booked(return_no, credit, duplicate=False)


async def _rejected_returned(session: AsyncSession, po_no: str, line_no: int) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(PurchaseReturnLine.quantity), 0))
        .join(PurchaseReturn)
        .where(
            PurchaseReturn.po_no == po_no,
            PurchaseReturnLine.line_no == line_no,
            PurchaseReturnLine.location_id.is_(None),
        )
    )
    return int(total or 0)
