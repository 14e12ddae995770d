"""Reading warehouse PDFs back the way a person and a scanner would: the text with pdfplumber,
and every barcode by decoding the filled rectangles on the page with an independent Code 128
decoder (the bar/space widths of the 107 symbols of ISO/IEC 15417, the same table as ZXing's
`Code128Reader.CODE_PATTERNS`; start, stop and the mod-103 checksum checked, code sets A, B, C
and the shift followed)."""

from __future__ import annotations

import io
from collections import defaultdict
from typing import Any, NamedTuple

import pdfplumber

# Code 128 --------------------------------------------------------------------------------------

WIDTHS = """
212222 222122 222221 121223 121322 131222 122213 122312 132212 221213 221312 231212 112232
122132 122231 113222 123122 123221 223211 221132 221231 213212 223112 312131 311222 321122
321221 312212 322112 322211 212123 212321 232121 111323 131123 131321 112313 132113 132311
211313 231113 231311 112133 112331 132131 113123 113321 133121 313121 211331 231131 213113
213311 213131 311123 311321 331121 312113 312311 332111 314111 221411 431111 111224 111422
121124 121421 141122 141221 112214 112412 122114 122411 142112 142211 241211 221114 413111
241112 134111 111242 121142 121241 114212 124112 124211 411212 421112 421211 212141 214121
412121 111143 111341 131141 114113 114311 411113 411311 113141 114131 311141 411131 211412
211214 211232 2331112
"""
PATTERNS = WIDTHS.split()  # value → bar, space, bar, … widths in modules
SYMBOL = {pattern: value for value, pattern in enumerate(PATTERNS)}
START_A, START_B, START_C, STOP = 103, 104, 105, 106
SHIFT, CODE_C, CODE_B, CODE_A = 98, 99, 100, 101


def decode_code128(widths: list[int]) -> str:
    """Text of one symbol given its bar, space, bar, … widths in modules (bar first and last)."""
    assert len(widths) % 6 == 1, f"{len(widths)} elements is not a Code 128 symbol"
    assert "".join(map(str, widths[-7:])) == PATTERNS[STOP], "no stop pattern"
    values = [SYMBOL["".join(map(str, widths[i : i + 6]))] for i in range(0, len(widths) - 7, 6)]
    start, data, check = values[0], values[1:-1], values[-1]
    assert start in (START_A, START_B, START_C), "no start pattern"
    assert (start + sum(i * v for i, v in enumerate(data, 1))) % 103 == check, "bad checksum"
    code_set = {START_A: "A", START_B: "B", START_C: "C"}[start]
    text, shifted = "", False
    for value in data:
        current = ("B" if code_set == "A" else "A") if shifted else code_set
        shifted = False
        if current == "C" and value < 100:
            text += f"{value:02d}"
        elif current == "B" and value < 96:
            text += chr(32 + value)
        elif current == "A" and value < 96:
            text += chr(32 + value) if value < 64 else chr(value - 64)
        elif value == SHIFT and current != "C":
            shifted = True
        elif value in (CODE_A, CODE_B, CODE_C) and (value, current) not in {
            (CODE_B, "B"),
            (CODE_A, "A"),
        }:
            code_set = {CODE_A: "A", CODE_B: "B", CODE_C: "C"}[value]
        else:
            raise AssertionError(f"function code {value} in set {current} is not expected here")
    return text


class Symbol(NamedTuple):
    text: str
    x0: float  # first bar
    x1: float  # last bar
    top: float
    bottom: float
    module: float  # points


def scan(bars: list[dict[str, Any]]) -> Symbol:
    """Bars of one symbol (left to right) measured in modules and decoded. A symbol of n symbol
    characters (start, data, check) plus the stop is 11·n + 13 modules wide and has 3·n + 4 bars."""
    assert (len(bars) - 4) % 3 == 0, f"{len(bars)} bars cannot be a Code 128 symbol"
    characters = (len(bars) - 4) // 3
    x0, x1 = bars[0]["x0"], bars[-1]["x1"]
    module = (x1 - x0) / (11 * characters + 13)
    edges = []
    for bar, following in zip(bars, [*bars[1:], None], strict=True):
        edges.append(bar["x1"] - bar["x0"])
        if following is not None:
            edges.append(following["x0"] - bar["x1"])
    widths = [round(edge / module) for edge in edges]
    assert all(abs(edge / module - w) < 0.15 for edge, w in zip(edges, widths, strict=True))
    top, bottom = bars[0]["top"], bars[0]["bottom"]
    return Symbol(decode_code128(widths), x0, x1, top, bottom, module)


def barcodes(page: Any) -> list[Symbol]:
    """Every Code 128 symbol on a pdfplumber page, top to bottom, left to right. Bars are filled
    rectangles; a symbol's bars share one vertical band and are never further apart than four
    modules, while symbols are separated by quiet zones of ten."""
    bands: dict[tuple[float, float], list[dict[str, Any]]] = defaultdict(list)
    for rect in page.rects:
        if rect["fill"] and rect["width"] < 8 and rect["height"] > 5:
            bands[(round(rect["top"], 2), round(rect["bottom"], 2))].append(rect)
    found = []
    for _, band in sorted(bands.items()):
        band.sort(key=lambda rect: rect["x0"])
        narrowest = min(rect["width"] for rect in band)
        symbol = [band[0]]
        for bar in band[1:]:
            if bar["x0"] - symbol[-1]["x1"] > 6 * narrowest:
                found.append(scan(symbol))
                symbol = []
            symbol.append(bar)
        found.append(scan(symbol))
    return found


def decoded(pdf: bytes) -> list[list[str]]:
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        return [[symbol.text for symbol in barcodes(page)] for page in document.pages]


def page_texts(pdf: bytes) -> list[str]:
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        return [page.extract_text() for page in document.pages]
