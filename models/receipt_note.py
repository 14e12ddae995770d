"""The receipt note (收货单) of one delivery against a purchase order, as PDF: the receipt number
as Code 128 with its text, the PO, supplier, warehouse, where the units were put, who received
them and when; then each line (SKU code, name, batch, production and expiry dates, received,
accepted, rejected) and the totals; under the table, lines for the receiver's and the deliverer's
signatures. Pure like models/documents.py: the same receipt always gives the same bytes."""

from __future__ import annotations

from datetime import date

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from reportlab.pdfgen.canvas import Canvas

from models.documents import Code, Text
from models.pdf_drawing import Column, draw_row, draw_text, paged_pdf

NOTE_ROWS_PER_PAGE = 26


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class ReceiptNoteLine(_Frozen):
    sku_code: Code
    sku_name: Text
    batch_no: str = Field(default="", max_length=64)
    production_date: date | None = None
    expiry_date: date | None = None
    received: int = Field(ge=0)
    accepted: int = Field(ge=0)
    rejected: int = Field(ge=0)
    kind: str = "ordered"  # ordered | sample | gift


class ReceiptNote(_Frozen):
    receipt_no: Code
    po_no: Code
    supplier_name: Text
    warehouse_code: Code
    location_code: Code
    received_by: Text
    received_at: AwareDatetime
    lines: tuple[ReceiptNoteLine, ...] = Field(min_length=1)


def receipt_note_pdf(doc: ReceiptNote) -> bytes:
    accepted = sum(line.accepted for line in doc.lines)
    rejected = sum(line.rejected for line in doc.lines)
    info = [
        (f"采购单 PO: {doc.po_no}", 9),
        (f"供应商 Supplier: {doc.supplier_name}", 9),
        (f"仓库 Warehouse: {doc.warehouse_code}    库位 Location: {doc.location_code}", 9),
        (f"收货人 Received by: {doc.received_by}", 9),
        (f"收货时间 Received at: {doc.received_at.isoformat(sep=' ', timespec='minutes')}", 9),
    ]
    columns = (
        Column("#", 22, True),
        Column("SKU", 80),
        Column("品名 Name", 140),
        Column("批次 Batch", 70),
        Column("生产/到期 Made/Exp.", 95),
        Column("实收 Recv", 40, True),
        Column("合格 OK", 38, True),
        Column("拒收 Rej", 38, True),
    )
    total = f"合计 Total: accepted {accepted}, rejected {rejected}"

    def row(c: Canvas, x: float, y: float, index: int) -> None:
        line = doc.lines[index]
        name = line.sku_name if line.kind == "ordered" else f"[{line.kind}] {line.sku_name}"
        made = line.production_date.isoformat() if line.production_date else "-"
        expires = line.expiry_date.isoformat() if line.expiry_date else "-"
        cells = (str(index + 1), line.sku_code, name, line.batch_no or "-", f"{made}/{expires}")
        counts = (str(line.received), str(line.accepted), str(line.rejected))
        draw_row(c, x, y - 13, columns, (*cells, *counts))
        if index == len(doc.lines) - 1:
            draw_text(c, x, y - 40, total, 11)
            draw_text(c, x, y - 80, "收货人签字 Received by: ____________________", 10)
            draw_text(c, x + 270, y - 80, "送货人签字 Delivered by: ____________________", 10)

    return paged_pdf(
        f"Receipt note {doc.receipt_no}",
        ("收货单 RECEIPT NOTE", doc.receipt_no, info),
        columns,
        len(doc.lines),
        (NOTE_ROWS_PER_PAGE, 20, row),
    )
