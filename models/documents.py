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
  number, customer name and address, printed-at time, the lines (SKU code, name, quantity) and
  the total units; long slips continue on further pages with the header repeated.
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

import io
import re
from collections.abc import Callable, Sequence
from functools import cache
from typing import Annotated, NamedTuple

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints
from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

CJK_FONT = "STSong-Light"
LATIN_FONT = "Helvetica"
LATIN_BOLD = "Helvetica-Bold"
LABEL_SIZE = (100 * mm, 150 * mm)
PICK_ROWS_PER_PAGE = 17
SLIP_ROWS_PER_PAGE = 28
QUIET_MODULES = 10
INFO_X, INFO_WIDTH = 300.0, A4[0] - 36 - 300

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
    lines: tuple[PackingLine, ...] = Field(min_length=1)
    printed_at: AwareDatetime

    @property
    def total_units(self) -> int:
        return sum(line.quantity for line in self.lines)


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
        f"路线 Route: {doc.route_name}, {_metres(doc.route_length_cm)}",
        f"站点 Stops: {len(doc.stops)}    件数 Units: {units}",
    ]
    columns = (
        _Column("#", 24, True),
        _Column("库位 Location", 144),
        _Column("SKU", 92),
        _Column("品名 Name", 150),
        _Column("批次 Batch", 75),
        _Column("数量 Qty", 38, True),
    )

    def row(c: Canvas, x: float, y: float, index: int) -> None:
        stop = doc.stops[index]
        cells = (str(index + 1), stop.location_code, stop.sku_code, stop.sku_name)
        _row(c, x, y - 10, columns, (*cells, stop.batch_no or "-", str(stop.quantity)))
        _barcode(c, stop.location_code, x + columns[0].width, y - 29, 136, 14, 0.9)

    return _paged_pdf(
        f"Pick list {doc.task_no}",
        ("拣货单 PICK LIST", doc.task_no, [(line, 9) for line in info]),
        columns,
        len(doc.stops),
        (PICK_ROWS_PER_PAGE, 33, row),
    )


def packing_slip_pdf(doc: PackingSlip) -> bytes:
    size, address = _fit_lines(f"地址 Address: {doc.address}", 9, INFO_WIDTH, 4)
    info = [
        (f"订单 Order: {doc.order_no}", 9),
        (f"客户 Customer: {doc.customer_name}", 9),
        *((line, size) for line in address),
        (f"打印时间 Printed at: {doc.printed_at.isoformat(sep=' ', timespec='minutes')}", 9),
    ]
    columns = (
        _Column("#", 24, True),
        _Column("SKU", 120),
        _Column("品名 Name", 319),
        _Column("数量 Qty", 60, True),
    )

    def row(c: Canvas, x: float, y: float, index: int) -> None:
        line = doc.lines[index]
        cells = (str(index + 1), line.sku_code, line.sku_name, str(line.quantity))
        _row(c, x, y - 13, columns, cells)
        if index == len(doc.lines) - 1:
            _text(c, x, y - 40, f"合计 Total units: {doc.total_units}", 11)

    return _paged_pdf(
        f"Packing slip {doc.package_no}",
        ("装箱单 PACKING SLIP", doc.package_no, info),
        columns,
        len(doc.lines),
        (SLIP_ROWS_PER_PAGE, 20, row),
    )


def shipping_label_pdf(doc: ShippingLabel) -> bytes:
    width, height = LABEL_SIZE
    left, inner = 8.0, width - 16.0
    buf, c = _canvas(f"Shipping label {doc.tracking_no}", LABEL_SIZE)
    _text(c, left, height - 26, doc.carrier_name, 16, width=inner - 70)
    _text(c, width - left, height - 27, doc.carrier_code, 20, font=LATIN_BOLD, right=True)
    _rule(c, left, height - 34, inner)
    _barcode(c, doc.tracking_no, left, height - 106, inner, 64, 1.6, centred=True)
    _text(
        c, width / 2, height - 122, doc.tracking_no, 15, font=LATIN_BOLD, width=inner, centre=True
    )
    _text(c, left, height - 138, f"运单号 Waybill: {doc.waybill_no}", 9, width=inner)
    _rule(c, left, height - 146, inner)
    phone = mask_phone(doc.recipient_phone)
    _text(c, width - left, height - 164, phone, 13, right=True)
    name_width = inner - pdfmetrics.stringWidth(phone, LATIN_FONT, 13) - 8
    _text(c, left, height - 164, f"收 {doc.recipient_name}", 13, width=name_width)
    size, lines = _fit_lines(doc.address, 12, inner, 6)
    for i, line in enumerate(lines):
        _text(c, left, height - 170 - size * (1 + 1.25 * i), line, size)
    _rule(c, left, 150, inner)
    _text(c, left, 134, f"寄 Sender: {doc.sender_warehouse}", 9, width=inner)
    _text(c, left, 120, f"重量 Weight: {_kilograms(doc.weight_g)}", 9)
    _text(c, left, 106, f"订单 Order: {doc.order_no}", 9, width=inner)
    _barcode(c, doc.package_no, left, 36, inner * 0.7, 40, 1.0)
    _text(c, left, 22, f"包裹 Package: {doc.package_no}", 9, width=inner)
    c.showPage()
    c.save()
    return buf.getvalue()


# Drawing helpers ---------------------------------------------------------------------------------


class _Column(NamedTuple):
    title: str
    width: float
    right: bool = False


RowDrawer = Callable[[Canvas, float, float, int], None]


@cache
def _register_fonts() -> None:
    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))


def _canvas(title: str, pagesize: tuple[float, float]) -> tuple[io.BytesIO, Canvas]:
    _register_fonts()
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=pagesize, invariant=1, pageCompression=1)
    c.setTitle(title)
    c.setAuthor("houtai")
    return buf, c


def _paged_pdf(
    title: str,
    header: tuple[str, str, Sequence[tuple[str, float]]],
    columns: Sequence[_Column],
    count: int,
    rows: tuple[int, float, RowDrawer],
) -> bytes:
    """A4 pages of `count` table rows: each page has the header (document title, the number as
    barcode and text, info lines on the right), "page n / N", the column titles and its rows."""
    per_page, row_height, draw_row = rows
    heading, number, info = header
    width, height = A4
    left, top = 36.0, height - 36
    pages = -(-count // per_page)
    buf, c = _canvas(title, A4)
    for page in range(pages):
        _text(c, left, top - 16, heading, 16)
        _text(c, width - left, top - 16, f"page {page + 1} / {pages}", 9, right=True)
        _barcode(c, number, left, top - 72, 230, 40, 1.0)
        _text(c, left + 10, top - 88, number, 12, font=LATIN_BOLD, width=250)
        for i, (line, size) in enumerate(info):
            _text(c, INFO_X, top - 36 - 12 * i, line, size, width=INFO_WIDTH)
        y = top - 124
        _row(c, left, y, columns, [column.title for column in columns], size=9)
        _rule(c, left, y - 5, sum(column.width for column in columns))
        y -= 6
        for index in range(page * per_page, min(count, (page + 1) * per_page)):
            draw_row(c, left, y, index)
            y -= row_height
            _rule(c, left, y, sum(column.width for column in columns), grey=True)
        c.showPage()
    c.save()
    return buf.getvalue()


def _row(
    c: Canvas, x: float, y: float, columns: Sequence[_Column], cells: Sequence[str], size: float = 9
) -> None:
    for column, cell in zip(columns, cells, strict=True):
        if column.right:
            _text(c, x + column.width - 4, y, cell, size, width=column.width - 6, right=True)
        else:
            _text(c, x, y, cell, size, width=column.width - 6)
        x += column.width


def _text(
    c: Canvas,
    x: float,
    y: float,
    text: str,
    size: float,
    *,
    font: str | None = None,
    width: float | None = None,
    right: bool = False,
    centre: bool = False,
) -> None:
    """One line; Helvetica when it is ASCII, else STSong-Light. Given a width, a line that does not
    fit is set smaller (down to 6 pt) and then cut with an ellipsis."""
    font = font or (LATIN_FONT if text.isascii() else CJK_FONT)
    if width is not None:
        while size > 6 and pdfmetrics.stringWidth(text, font, size) > width:
            size -= 0.5
        if pdfmetrics.stringWidth(text, font, size) > width:
            while pdfmetrics.stringWidth(text + "…", font, size) > width:
                text = text[:-1]
            text += "…"
    c.setFont(font, size)
    if right:
        c.drawRightString(x, y, text)
    elif centre:
        c.drawCentredString(x, y, text)
    else:
        c.drawString(x, y, text)


def _wrap(text: str, size: float, width: float) -> list[str]:
    """Greedy line breaks between characters (Chinese has no spaces to break at), keeping runs of
    Latin letters and digits (house numbers, room numbers) whole."""
    lines: list[str] = []
    line = ""
    for token in re.findall(r"[0-9A-Za-z\-]+|.", text):
        if line and pdfmetrics.stringWidth(line + token, CJK_FONT, size) > width:
            lines.append(line)
            line = token.lstrip()
        else:
            line += token
    return [*lines, line] if line else lines


def _fit_lines(text: str, size: float, width: float, most: int) -> tuple[float, list[str]]:
    """`text` wrapped into at most `most` lines of `width`, at `size` or smaller (down to 6 pt;
    the 120-character limit of an address always fits the places it is printed)."""
    lines = _wrap(text, size, width)
    while len(lines) > most and size > 6:
        size -= 1
        lines = _wrap(text, size, width)
    return size, lines


def _rule(c: Canvas, x: float, y: float, width: float, *, grey: bool = False) -> None:
    c.saveState()
    c.setLineWidth(0.3 if grey else 0.8)
    c.setStrokeGray(0.6 if grey else 0)
    c.line(x, y, x + width, y)
    c.restoreState()


def _barcode(
    c: Canvas,
    value: str,
    x: float,
    y: float,
    width: float,
    height: float,
    max_bar: float,
    *,
    centred: bool = False,
) -> None:
    """`value` as Code 128 with ten-module quiet zones inside `width`; modules at most `max_bar`
    points wide. Bars only: the caller prints the human-readable text where it belongs."""
    modules = Code128(value, barWidth=1.0, quiet=0).width
    bar = min(max_bar, width / (modules + 2 * QUIET_MODULES))
    quiet = QUIET_MODULES * bar
    symbol = Code128(value, barWidth=bar, barHeight=height, lquiet=quiet, rquiet=quiet)
    if centred:
        x += (width - symbol.width) / 2
    symbol.drawOn(c, x, y)


def _metres(cm: int) -> str:
    return f"{cm // 100}.{cm % 100:02d} m"


def _kilograms(grams: int) -> str:
    return f"{grams // 1000}.{grams % 1000:03d} kg"
