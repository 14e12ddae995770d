"""Drawing helpers of the warehouse documents (`models.documents`): A4 pages with a repeated
header and a table, text in Helvetica or STSong-Light set smaller then cut to fit, wrapped
addresses, rules and Code 128 barcodes with quiet zones. Pure: nothing but reportlab."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from functools import cache
from typing import NamedTuple

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

CJK_FONT = "STSong-Light"
LATIN_FONT = "Helvetica"
LATIN_BOLD = "Helvetica-Bold"
QUIET_MODULES = 10
INFO_X, INFO_WIDTH = 300.0, A4[0] - 36 - 300


class Column(NamedTuple):
    title: str
    width: float
    right: bool = False


RowDrawer = Callable[[Canvas, float, float, int], None]


@cache
def register_fonts() -> None:
    if CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))


def new_canvas(title: str, pagesize: tuple[float, float]) -> tuple[io.BytesIO, Canvas]:
    register_fonts()
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=pagesize, invariant=1, pageCompression=1)
    c.setTitle(title)
    c.setAuthor("houtai")
    return buf, c


def paged_pdf(
    title: str,
    header: tuple[str, str, Sequence[tuple[str, float]]],
    columns: Sequence[Column],
    count: int,
    rows: tuple[int, float, RowDrawer],
) -> bytes:
    """A4 pages of `count` table rows: each page has the header (document title, the number as
    barcode and text, info lines on the right), "page n / N", the column titles and its rows."""
    per_page, row_height, each_row = rows
    heading, number, info = header
    width, height = A4
    left, top = 36.0, height - 36
    pages = -(-count // per_page)
    buf, c = new_canvas(title, A4)
    for page in range(pages):
        draw_text(c, left, top - 16, heading, 16)
        draw_text(c, width - left, top - 16, f"page {page + 1} / {pages}", 9, right=True)
        draw_barcode(c, number, left, top - 72, 230, 40, 1.0)
        draw_text(c, left + 10, top - 88, number, 12, font=LATIN_BOLD, width=250)
        for i, (line, size) in enumerate(info):
            draw_text(c, INFO_X, top - 36 - 12 * i, line, size, width=INFO_WIDTH)
        y = top - 124
        draw_row(c, left, y, columns, [column.title for column in columns], size=9)
        draw_rule(c, left, y - 5, sum(column.width for column in columns))
        y -= 6
        for index in range(page * per_page, min(count, (page + 1) * per_page)):
            each_row(c, left, y, index)
            y -= row_height
            draw_rule(c, left, y, sum(column.width for column in columns), grey=True)
        c.showPage()
    c.save()
    return buf.getvalue()


def draw_row(
    c: Canvas, x: float, y: float, columns: Sequence[Column], cells: Sequence[str], size: float = 9
) -> None:
    for column, cell in zip(columns, cells, strict=True):
        if column.right:
            draw_text(c, x + column.width - 4, y, cell, size, width=column.width - 6, right=True)
        else:
            draw_text(c, x, y, cell, size, width=column.width - 6)
        x += column.width


def draw_text(
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


def wrap(text: str, size: float, width: float) -> list[str]:
    """Greedy line breaks between characters (Chinese has no spaces to break at), keeping runs of
    Latin letters and digits (house numbers, room numbers) whole."""
    register_fonts()  # measured before any canvas exists (a slip fits its address first)
    lines: list[str] = []
    line = ""
    for token in re.findall(r"[0-9A-Za-z\-]+|.", text):
        if line and pdfmetrics.stringWidth(line + token, CJK_FONT, size) > width:
            lines.append(line)
            line = token.lstrip()
        else:
            line += token
    return [*lines, line] if line else lines


def fit_lines(text: str, size: float, width: float, most: int) -> tuple[float, list[str]]:
    """`text` wrapped into at most `most` lines of `width`, at `size` or smaller (down to 6 pt;
    the 120-character limit of an address always fits the places it is printed)."""
    lines = wrap(text, size, width)
    while len(lines) > most and size > 6:
        size -= 1
        lines = wrap(text, size, width)
    return size, lines


def draw_rule(c: Canvas, x: float, y: float, width: float, *, grey: bool = False) -> None:
    c.saveState()
    c.setLineWidth(0.3 if grey else 0.8)
    c.setStrokeGray(0.6 if grey else 0)
    c.line(x, y, x + width, y)
    c.restoreState()


def draw_barcode(
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


def metres(cm: int) -> str:
    return f"{cm // 100}.{cm % 100:02d} m"


def kilograms(grams: int) -> str:
    return f"{grams // 1000}.{grams % 1000:03d} kg"
