"""Warehouse documents as PDF (DESIGN §6.4 "Printing", issue 4 item 9): pure functions from a
frozen pydantic model to the bytes of a PDF, so the same input always gives the same bytes and a
reprint is the same document.

- `pick_list_pdf(PickList)` — A4, one pick task list. Every page repeats the header: the task
  number as a Code 128 barcode with its text, wave number, warehouse code, device and picker (when
  given), route name and length in metres, stop and unit counts, and "page n / N". Then a table of
  the stops in the given order (the route order, never re-sorted): stop number (1-based), location
  code with a small Code 128 of it, SKU code, SKU name, batch number, quantity. A page holds
  `PICK_ROWS_PER_PAGE` stops.
- `packing_slip_pdf(PackingSlip)` — A4: the package number as Code 128 with its text, order
  number, customer name and address, printed-at time, the lines in the box (SKU code, name,
  quantity) and their total units; then the ordered units that are not in the box ("short / to
  follow", quantity in brackets) and their total; long slips continue on further pages with the
  header repeated.
- `shipping_label_pdf(ShippingLabel)` — one 100 mm × 150 mm page: carrier name and code, the
  tracking number as a large Code 128 with its text, waybill number, recipient name, phone masked
  by `mask_phone` (138****5678), full address, sender warehouse, weight in kg, order number and
  the package number as a smaller Code 128.

Units follow DESIGN §4: the route length comes in centimetres (`Route.distance` of
`models.domain.pick_paths`) and is printed in metres, the weight comes in grams and is printed in
kg; both are formatted from integers. The printed-at time is part of the input and is printed with
its own UTC offset: nothing here reads the clock. The canvas is made with `invariant=1`, so dates
and the document id in the file are fixed. Chinese text uses reportlab's built-in CID font
STSong-Light, ASCII-only text Helvetica; the CID font is referenced, not embedded, so the viewer
or printer supplies the Adobe-GB1 glyphs. Text too wide for its place is set smaller, then cut
with "…"; an address (at most 120 characters) is wrapped and never cut. Everything that becomes a
barcode must be printable ASCII (Code 128 code sets A/B/C). Barcodes get quiet zones of ten
modules; their module width is reduced to fit the space they are given.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from models.pdf_drawing import (
    INFO_WIDTH,
    LATIN_BOLD,
    LATIN_FONT,
    Column,
    draw_barcode,
    draw_row,
    draw_rule,
    draw_text,
    fit_lines,
    kilograms,
    metres,
    new_canvas,
    paged_pdf,
)

LABEL_SIZE = (100 * mm, 150 * mm)
PICK_ROWS_PER_PAGE = 17
SLIP_ROWS_PER_PAGE = 28

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Code = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40, pattern=r"^[ -~]+$")
]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
Quantity = Annotated[int, Field(gt=0)]
Phone = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 \-]{4,24}$")
]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True)


class PickStop(_Frozen):
    location_code: Code
    sku_code: Code
    sku_name: Text
    batch_no: Code | None = None
    quantity: Quantity


class PickList(_Frozen):
    task_no: Code
    wave_no: Code
    warehouse_code: Code
    device: Text | None = None
    picker: Text | None = None
    route_name: Text
    route_length_cm: Annotated[int, Field(ge=0)]
    stops: tuple[PickStop, ...] = Field(min_length=1)


class PackingLine(_Frozen):
    sku_code: Code
    sku_name: Text
    quantity: Quantity


class PackingSlip(_Frozen):
    package_no: Code
    order_no: Code
    customer_name: Text
    address: Address
    lines: tuple[PackingLine, ...] = Field(min_length=1)  # what is in the box
    printed_at: AwareDatetime
    # Ordered units the wave did not find: not in this box (backordered or refunded).
    short: tuple[PackingLine, ...] = ()

    @property
    def total_units(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def short_units(self) -> int:
        return sum(line.quantity for line in self.short)


class ShippingLabel(_Frozen):
    carrier_code: Code
    carrier_name: Text
    waybill_no: Code
    tracking_no: Code
    recipient_name: Text
    recipient_phone: Phone
    address: Address
    sender_warehouse: Text
    weight_g: Annotated[int, Field(gt=0)]
    package_no: Code
    order_no: Code


class TransferNoteLine(_Frozen):
    sku_code: Code
    sku_name: Text
    quantity: Quantity
    shipped: Annotated[int, Field(ge=0)] = 0


class TransferNote(_Frozen):
    """调拨单: what leaves the source for the destination, the number as Code 128 to scan."""

    transfer_no: Code
    from_warehouse: Code
    to_warehouse: Code
    status: Text
    created_at: AwareDatetime
    lines: tuple[TransferNoteLine, ...] = Field(min_length=1)


_MAINLAND_MOBILE = re.compile(r"^(?:\+?86)?(1[3-9]\d{9})$")


def mask_phone(phone: str) -> str:
    """138****5678 for a mainland mobile (with or without +86, spaces, dashes); any other number
    keeps only its last four digits visible."""
    digits = re.sub(r"[^0-9+]", "", phone)
    mobile = _MAINLAND_MOBILE.match(digits)
    if mobile:
        number = mobile.group(1)
        return f"{number[:3]}****{number[7:]}"
    bare = digits.lstrip("+")
    return "*" * max(len(bare) - 4, 0) + bare[-4:]


def pick_list_pdf(doc: PickList) -> bytes:
    units = sum(stop.quantity for stop in doc.stops)
    info = [
        f"波次 Wave: {doc.wave_no}",
        f"仓库 Warehouse: {doc.warehouse_code}",
        f"设备 Device: {doc.device or '-'}    拣货员 Picker: {doc.picker or '-'}",
        f"路线 Route: {doc.route_name}, {metres(doc.route_length_cm)}",
        f"站点 Stops: {len(doc.stops)}    件数 Units: {units}",
    ]
    columns = (
        Column("#", 24, True),
        Column("库位 Location", 144),
        Column("SKU", 92),
        Column("品名 Name", 150),
        Column("批次 Batch", 75),
        Column("数量 Qty", 38, True),
    )

    def row(c: Canvas, x: float, y: float, index: int) -> None:
        stop = doc.stops[index]
        cells = (str(index + 1), stop.location_code, stop.sku_code, stop.sku_name)
        draw_row(c, x, y - 10, columns, (*cells, stop.batch_no or "-", str(stop.quantity)))
        draw_barcode(c, stop.location_code, x + columns[0].width, y - 29, 136, 14, 0.9)

    return paged_pdf(
        f"Pick list {doc.task_no}",
        ("拣货单 PICK LIST", doc.task_no, [(line, 9) for line in info]),
        columns,
        len(doc.stops),
        (PICK_ROWS_PER_PAGE, 33, row),
    )


def packing_slip_pdf(doc: PackingSlip) -> bytes:
    size, address = fit_lines(f"地址 Address: {doc.address}", 9, INFO_WIDTH, 4)
    info = [
        (f"订单 Order: {doc.order_no}", 9),
        (f"客户 Customer: {doc.customer_name}", 9),
        *((line, size) for line in address),
        (f"打印时间 Printed at: {doc.printed_at.isoformat(sep=' ', timespec='minutes')}", 9),
    ]
    columns = (
        Column("#", 24, True),
        Column("SKU", 120),
        Column("品名 Name", 319),
        Column("数量 Qty", 60, True),
    )

    rows = (*doc.lines, *doc.short)
    total = f"合计 Total units: {doc.total_units}"
    if doc.short:
        total += f"    缺货 Short / to follow: {doc.short_units}"

    def row(c: Canvas, x: float, y: float, index: int) -> None:
        line = rows[index]
        if index < len(doc.lines):
            cells = (str(index + 1), line.sku_code, line.sku_name, str(line.quantity))
        else:  # not in the box: listed so the customer knows what is missing
            cells = ("-", line.sku_code, f"缺货 Short / to follow: {line.sku_name}",
                     f"({line.quantity})")  # fmt: skip
        draw_row(c, x, y - 13, columns, cells)
        if index == len(rows) - 1:
            draw_text(c, x, y - 40, total, 11)

    return paged_pdf(
        f"Packing slip {doc.package_no}",
        ("装箱单 PACKING SLIP", doc.package_no, info),
        columns,
        len(rows),
        (SLIP_ROWS_PER_PAGE, 20, row),
    )


def shipping_label_pdf(doc: ShippingLabel) -> bytes:
    width, height = LABEL_SIZE
    left, inner = 8.0, width - 16.0
    buf, c = new_canvas(f"Shipping label {doc.tracking_no}", LABEL_SIZE)
    draw_text(c, left, height - 26, doc.carrier_name, 16, width=inner - 70)
    draw_text(c, width - left, height - 27, doc.carrier_code, 20, font=LATIN_BOLD, right=True)
    draw_rule(c, left, height - 34, inner)
    draw_barcode(c, doc.tracking_no, left, height - 106, inner, 64, 1.6, centred=True)
    draw_text(
        c, width / 2, height - 122, doc.tracking_no, 15, font=LATIN_BOLD, width=inner, centre=True
    )
    draw_text(c, left, height - 138, f"运单号 Waybill: {doc.waybill_no}", 9, width=inner)
    draw_rule(c, left, height - 146, inner)
    phone = mask_phone(doc.recipient_phone)
    draw_text(c, width - left, height - 164, phone, 13, right=True)
    name_width = inner - pdfmetrics.stringWidth(phone, LATIN_FONT, 13) - 8
    draw_text(c, left, height - 164, f"收 {doc.recipient_name}", 13, width=name_width)
    size, lines = fit_lines(doc.address, 12, inner, 6)
    for i, line in enumerate(lines):
        draw_text(c, left, height - 170 - size * (1 + 1.25 * i), line, size)
    draw_rule(c, left, 150, inner)
    draw_text(c, left, 134, f"寄 Sender: {doc.sender_warehouse}", 9, width=inner)
    draw_text(c, left, 120, f"重量 Weight: {kilograms(doc.weight_g)}", 9)
    draw_text(c, left, 106, f"订单 Order: {doc.order_no}", 9, width=inner)
    draw_barcode(c, doc.package_no, left, 36, inner * 0.7, 40, 1.0)
    draw_text(c, left, 22, f"包裹 Package: {doc.package_no}", 9, width=inner)
    c.showPage()
    c.save()
    return buf.getvalue()


def transfer_note_pdf(doc: TransferNote) -> bytes:
    info = [
        (f"调出 From: {doc.from_warehouse}    调入 To: {doc.to_warehouse}", 9),
        (f"状态 Status: {doc.status}", 9),
        (f"申请时间 Requested at: {doc.created_at.isoformat(sep=' ', timespec='minutes')}", 9),
    ]
    columns = (
        Column("#", 24, True),
        Column("SKU", 120),
        Column("品名 Name", 259),
        Column("数量 Qty", 60, True),
        Column("发出 Shipped", 60, True),
    )
    total = f"合计 Total units: {sum(line.quantity for line in doc.lines)}"

    def row(c: Canvas, x: float, y: float, index: int) -> None:
        line = doc.lines[index]
        cells = (str(index + 1), line.sku_code, line.sku_name, str(line.quantity),
                 str(line.shipped))  # fmt: skip
        draw_row(c, x, y - 13, columns, cells)
        if index == len(doc.lines) - 1:
            draw_text(c, x, y - 40, total, 11)

    return paged_pdf(
        f"Transfer note {doc.transfer_no}",
        ("调拨单 TRANSFER NOTE", doc.transfer_no, info),
        columns,
        len(doc.lines),
        (SLIP_ROWS_PER_PAGE, 20, row),
    )
