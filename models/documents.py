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
- `manifest_pdf(ManifestDocument)` — A4, a carrier manifest (交接单): the manifest number as
  Code 128, carrier, warehouse, package count and total weight, created and handed-over times,
  driver/vehicle note; one row per package with its tracking number as Code 128, package and
  order number and weight; after the last row the total and the lines the driver signs.
- `count_sheet_pdf(CountSheet)` — A4, a blind stock count sheet (盘点表): the count number as
  Code 128, warehouse, location and page counts, then one row per location in the given order:
  its code, its barcode as a Code 128 to scan, and empty SKU, batch and counted columns to write
  in. It holds no book (expected) quantity: whoever counts from it counts blind.

- `putaway_list_pdf(PutawayList)` — A4, a warehouse's open putaway tasks (上架单), oldest first:
  the warehouse code as Code 128 in the header with the task and unit counts; per row the task
  number, the receiving location the units wait at, SKU code and name, batch, the units left to
  put, and the suggested location with a small Code 128 of it ("-" when there is none: any
  storage location will do). A page holds `PUTAWAY_ROWS_PER_PAGE` tasks.

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
COUNT_ROWS_PER_PAGE = 17
PUTAWAY_ROWS_PER_PAGE = 17

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


class PutawayLine(_Frozen):
    task_no: Code
    from_location_code: Code
    sku_code: Code
    sku_name: Text
    batch_no: Code | None = None
    quantity: Quantity
    suggested_location_code: Code | None = None


class PutawayList(_Frozen):
    warehouse_code: Code
    warehouse_name: Text
    lines: tuple[PutawayLine, ...] = Field(min_length=1)


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


class CountSheetLocation(_Frozen):
    code: Code
    barcode: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[ -~]+$"),
    ]


class CountSheet(_Frozen):
    count_no: Code
    warehouse_code: Code
    created_by: Text
    locations: tuple[CountSheetLocation, ...] = Field(min_length=1)


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


def putaway_list_pdf(doc: PutawayList) -> bytes:
    units = sum(line.quantity for line in doc.lines)
    info = [
        f"仓库 Warehouse: {doc.warehouse_name}",
        f"任务 Tasks: {len(doc.lines)}    件数 Units: {units}",
    ]
    columns = (
        Column("任务 Task", 88),
        Column("从 From", 60),
        Column("SKU", 80),
        Column("品名 Name", 120),
        Column("批次 Batch", 60),
        Column("数量 Qty", 40, True),
        Column("建议库位 To", 75),
    )

    def row(c: Canvas, x: float, y: float, index: int) -> None:
        line = doc.lines[index]
        cells = (line.task_no, line.from_location_code, line.sku_code, line.sku_name)
        to = line.suggested_location_code
        draw_row(
            c, x, y - 10, columns, (*cells, line.batch_no or "-", str(line.quantity), to or "-")
        )
        if to:  # under the row's right end, below the suggested location's code
            right = x + sum(column.width for column in columns)
            draw_barcode(c, to, right - 136, y - 29, 136, 14, 0.9)

    return paged_pdf(
        f"Putaway list {doc.warehouse_code}",
        ("上架单 PUTAWAY LIST", doc.warehouse_code, [(line, 9) for line in info]),
        columns,
        len(doc.lines),
        (PUTAWAY_ROWS_PER_PAGE, 33, row),
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


def count_sheet_pdf(doc: CountSheet) -> bytes:
    info = [
        (f"仓库 Warehouse: {doc.warehouse_code}", 9),
        (f"库位 Locations: {len(doc.locations)}", 9),
        (f"开单 Opened by: {doc.created_by}", 9),
        ("盲盘: 只写实盘数量 Blind count: write what you count", 9),
        ("盘点人 Counted by: ____________", 9),
    ]
    columns = (
        Column("#", 24, True),
        Column("库位 Location", 160),
        Column("SKU", 110),
        Column("批次 Batch", 110),
        Column("实盘 Counted", 119, True),
    )

    def row(c: Canvas, x: float, y: float, index: int) -> None:
        location = doc.locations[index]
        draw_row(c, x, y - 10, columns, (str(index + 1), location.code, "", "", ""))
        draw_barcode(c, location.barcode, x + columns[0].width, y - 29, 152, 14, 0.9)

    return paged_pdf(
        f"Count sheet {doc.count_no}",
        ("盘点表 COUNT SHEET", doc.count_no, info),
        columns,
        len(doc.locations),
        (COUNT_ROWS_PER_PAGE, 33, row),
    )


class ManifestEntry(_Frozen):
    package_no: Code
    tracking_no: Code
    order_no: Code
    weight_g: Annotated[int, Field(gt=0)]


class ManifestDocument(_Frozen):
    """A carrier manifest (交接单): what the driver takes and signs for."""

    manifest_no: Code
    carrier_code: Code
    carrier_name: Text
    warehouse_code: Code
    warehouse_name: Text
    status: Code
    created_at: AwareDatetime
    handed_over_at: AwareDatetime | None = None
    handed_over_by: Text | None = None
    note: Text | None = None  # driver, vehicle
    entries: tuple[ManifestEntry, ...] = Field(min_length=1)

    @property
    def weight_g(self) -> int:
        return sum(entry.weight_g for entry in self.entries)


MANIFEST_ROWS_PER_PAGE = 16


def manifest_pdf(doc: ManifestDocument) -> bytes:
    """A4: the manifest number as Code 128, carrier, warehouse, package count and total weight,
    then one row per package (its tracking number as Code 128 with its text, package and order
    number, weight), and after the last row the lines the driver and the warehouse sign."""
    handed = (
        doc.handed_over_at.isoformat(sep=" ", timespec="minutes") if doc.handed_over_at else "-"
    )
    info = [
        (f"承运商 Carrier: {doc.carrier_name} ({doc.carrier_code})", 9),
        (f"仓库 Warehouse: {doc.warehouse_name} ({doc.warehouse_code})", 9),
        (f"件数 Packages: {len(doc.entries)}    重量 Weight: {kilograms(doc.weight_g)}", 9),
        (f"创建 Created: {doc.created_at.isoformat(sep=' ', timespec='minutes')}", 9),
        (f"交接 Handed over: {handed}  {doc.handed_over_by or ''}".rstrip(), 9),
        (f"司机/车辆 Driver/vehicle: {doc.note or '-'}", 9),
    ]
    columns = (
        Column("#", 24, True),
        Column("运单号 Tracking no", 200),
        Column("包裹 Package", 120),
        Column("订单 Order", 120),
        Column("重量 Weight", 59, True),
    )

    def row(c: Canvas, x: float, y: float, index: int) -> None:
        entry = doc.entries[index]
        cells = (str(index + 1), entry.tracking_no, entry.package_no, entry.order_no)
        draw_row(c, x, y - 10, columns, (*cells, kilograms(entry.weight_g)))
        draw_barcode(c, entry.tracking_no, x + columns[0].width, y - 32, 190, 18, 1.0)
        if index == len(doc.entries) - 1:
            total = f"合计 Total: {len(doc.entries)} 件 packages, {kilograms(doc.weight_g)}"
            draw_text(c, x, y - 52, total, 11)
            signature = "司机签字 Driver signature: ______________    日期 Date: __________"
            draw_text(c, x, y - 80, signature, 10)
            draw_text(c, x, y - 102, "仓库签字 Warehouse signature: ______________", 10)

    return paged_pdf(
        f"Carrier manifest {doc.manifest_no}",
        ("交接单 CARRIER MANIFEST", doc.manifest_no, info),
        columns,
        len(doc.entries),
        (MANIFEST_ROWS_PER_PAGE, 36, row),
    )


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
