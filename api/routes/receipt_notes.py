"""The receipt note (收货单) of a delivery booked against a purchase order, as PDF
(models/receipt_note.py): printed from what was stored, so a reprint is the same document. For
whoever may read purchase orders; a device only for receipts of its own warehouse."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Response
from sqlalchemy import select

from api.deps import Principal, Session, require
from api.errors import Problem, not_found
from api.routes.printing import PDF, PdfResponse
from api.routing import Routes
from api.schemas.types import NoParam
from models.db import (
    Location,
    PurchaseOrder,
    PurchaseReceipt,
    PurchaseReceiptLine,
    Sku,
    Supplier,
    Warehouse,
)
from models.receipt_note import ReceiptNote, ReceiptNoteLine, receipt_note_pdf

router = Routes(tags=["printing"])
Reader = Annotated[Principal, Depends(require("purchase.read"))]


@router.get(
    "/v1/purchase-orders/{po_no}/receipts/{receipt_no}/receipt-note.pdf",
    responses=PDF,
    response_class=PdfResponse,
)
async def receipt_note(
    po_no: NoParam, receipt_no: NoParam, session: Session, who: Reader
) -> Response:
    receipt = await session.get(PurchaseReceipt, receipt_no)
    if receipt is None or receipt.po_no != po_no:
        raise not_found("receipt", receipt_no)
    if not who.can_see_warehouse(receipt.warehouse_id):
        raise Problem(403, "devices see only their own warehouse", type_="/problems/forbidden")
    supplier = await session.scalar(
        select(Supplier.name)
        .join(PurchaseOrder, PurchaseOrder.supplier_id == Supplier.id)
        .where(PurchaseOrder.po_no == po_no)
    )
    warehouse = await session.get(Warehouse, receipt.warehouse_id)
    location = await session.get(Location, receipt.location_id)
    rows = await session.execute(
        select(PurchaseReceiptLine, Sku.code, Sku.name)
        .join(Sku, Sku.id == PurchaseReceiptLine.sku_id)
        .where(PurchaseReceiptLine.receipt_no == receipt_no)
        .order_by(PurchaseReceiptLine.line_no.nulls_last(), PurchaseReceiptLine.id)
    )
    assert warehouse is not None and location is not None
    note = ReceiptNote(
        receipt_no=receipt.receipt_no,
        po_no=po_no,
        supplier_name=supplier or "-",
        warehouse_code=warehouse.code,
        location_code=location.code,
        received_by=receipt.actor,
        received_at=receipt.received_at,
        lines=tuple(
            ReceiptNoteLine(
                sku_code=code,
                sku_name=name,
                batch_no=line.batch_no,
                production_date=line.production_date,
                expiry_date=line.expiry_date,
                received=line.received,
                accepted=line.accepted,
                rejected=line.rejected,
                kind=line.kind,
            )
            for line, code, name in rows
        ),
    )
    return PdfResponse(
        receipt_note_pdf(note),
        headers={"Content-Disposition": f'inline; filename="{receipt_no}-receipt-note.pdf"'},
    )
