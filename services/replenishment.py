"""Replenishment (智能采购, basic): which SKUs of a warehouse fell below their reorder point
(sellable + in transit), for their preferred, approved supplier, without an open PO line for the
same SKU and warehouse; and the draft PO for each supplier (DESIGN §6.5)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Select, and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.contracts.purchasing import Draft, Drafted, DraftLine, DraftRequest
from models.db import (
    Notification,
    PurchaseOrder,
    PurchaseOrderLine,
    ReorderRule,
    Sku,
    Stock,
    Supplier,
    SupplierProduct,
)
from models.domain.purchasing import PoLine, replenishment_quantity
from services import notifications
from services.purchasing import add_po
from services.stock_ledger import sellable_units

OPEN_PO = ("draft", "pending_approval", "approved", "sent", "receiving")
MAX_LINES_PER_PO = 200  # a supplier's drafts are split: POs stay reviewable, payloads small


def below_reorder_point(warehouse_id: int | None = None) -> Select[int, int, int, int, int, int]:
    """Rules whose SKU's sellable + in transit is below the point (stock rows may be missing):
    sku, warehouse, sellable, in_transit, point, level. Also the low-stock list for ops."""
    sellable = func.coalesce(sellable_units(), 0)
    in_transit = func.coalesce(Stock.in_transit, 0)
    query = (
        select(
            ReorderRule.sku_id,
            ReorderRule.warehouse_id,
            sellable.label("sellable"),
            in_transit.label("in_transit"),
            ReorderRule.reorder_point,
            ReorderRule.reorder_level,
        )
        .outerjoin(
            Stock,
            and_(
                Stock.sku_id == ReorderRule.sku_id, Stock.warehouse_id == ReorderRule.warehouse_id
            ),
        )
        .where(sellable + in_transit < ReorderRule.reorder_point)
        .order_by(ReorderRule.warehouse_id, ReorderRule.sku_id)
    )
    if warehouse_id is not None:
        query = query.where(ReorderRule.warehouse_id == warehouse_id)
    return query


async def notify_low_stock(session: AsyncSession, warehouse_id: int) -> int:
    """Purchasing is told of each SKU of the warehouse that fell below its reorder point (once
    while it stays below); one back above it closes its notification. In the caller's
    transaction. Returns how many were raised."""
    below = below_reorder_point(warehouse_id).subquery()
    rows = (
        await session.execute(
            select(Sku.code, below.c.sellable, below.c.in_transit, below.c.reorder_point).join(
                below, below.c.sku_id == Sku.id
            )
        )
    ).all()
    raised = 0
    refs = set()
    for code, sellable, in_transit, point in rows:
        ref = f"{code}@{warehouse_id}"
        refs.add(ref)
        notice = notifications.Notice(
            kind="low_stock",
            ref=ref,
            step="below",
            detail=f"{code}: {int(sellable)} + {int(in_transit)} < {point}",
            warehouse_id=warehouse_id,
        )
        raised += await notifications.raise_unless_open(session, notice) is not None
    await notifications.resolve_except(
        session, "low_stock", refs, Notification.warehouse_id == warehouse_id
    )
    return raised


async def reorder_drafts(session: AsyncSession, warehouse_id: int) -> list[Draft]:
    """The draft POs the warehouse needs now: per preferred, approved supplier, the SKUs below
    their reorder point without an open PO line, topped up to their reorder level."""
    open_line = exists().where(
        PurchaseOrderLine.po_no == PurchaseOrder.po_no,
        PurchaseOrderLine.sku_id == ReorderRule.sku_id,
        PurchaseOrderLine.warehouse_id == ReorderRule.warehouse_id,
        PurchaseOrder.status.in_(OPEN_PO),
    )
    below = below_reorder_point(warehouse_id).subquery()
    query = (
        select(
            below,
            SupplierProduct.supplier_id,
            SupplierProduct.supply_price_fen,
            SupplierProduct.units_per_purchase_unit,
        )
        .join(
            SupplierProduct,
            and_(SupplierProduct.sku_id == below.c.sku_id, SupplierProduct.preferred),
        )
        .join(
            Supplier,
            and_(Supplier.id == SupplierProduct.supplier_id, Supplier.status == "approved"),
        )
        .join(
            ReorderRule,
            and_(
                ReorderRule.sku_id == below.c.sku_id,
                ReorderRule.warehouse_id == below.c.warehouse_id,
            ),
        )
        .where(~open_line)
        .order_by(SupplierProduct.supplier_id, below.c.sku_id)
    )
    lines: dict[int, list[DraftLine]] = {}
    for row in (await session.execute(query)).mappings():
        quantity = replenishment_quantity(
            sellable=int(row["sellable"]),
            in_transit=int(row["in_transit"]),
            reorder_point=row["reorder_point"],
            reorder_level=row["reorder_level"],
            purchase_unit=row["units_per_purchase_unit"],
        )
        if quantity:
            lines.setdefault(row["supplier_id"], []).append(
                DraftLine(
                    sku_id=row["sku_id"],
                    quantity=quantity,
                    unit_price_fen=row["supply_price_fen"],
                )
            )
    return [
        Draft(supplier_id=supplier, lines=found[i : i + MAX_LINES_PER_PO])
        for supplier, found in lines.items()
        for i in range(0, len(found), MAX_LINES_PER_PO)
    ]


async def draft_po(session: AsyncSession, request: DraftRequest, *, today: date) -> Drafted:
    """The PO of one draft, once per source key: the same key again finds the PO drafted
    before. In the caller's transaction."""
    found = await session.scalar(
        select(PurchaseOrder).where(PurchaseOrder.source_key == request.source_key)
    )
    if found is not None:
        return Drafted(po_no=found.po_no, lines=await _lines(session, found.po_no), created=False)
    lines = [
        PoLine(
            line_no=n + 1,
            sku_id=line.sku_id,
            warehouse_id=request.warehouse_id,
            quantity=line.quantity,
            unit_price_fen=line.unit_price_fen,
        )
        for n, line in enumerate(request.draft.lines)
    ]
    po_no = await add_po(
        session,
        supplier_id=request.draft.supplier_id,
        lines=lines,
        created_by=None,
        note="drafted by replenishment",
        source_key=request.source_key,
        today=today,
    )
    return Drafted(po_no=po_no, lines=lines, created=True)


async def _lines(session: AsyncSession, po_no: str) -> list[PoLine]:
    rows = await session.scalars(
        select(PurchaseOrderLine)
        .where(PurchaseOrderLine.po_no == po_no)
        .order_by(PurchaseOrderLine.line_no)
    )
    fields = ("line_no", "sku_id", "warehouse_id", "quantity", "unit_price_fen")
    return [PoLine(**{k: getattr(r, k) for k in fields}) for r in rows]
