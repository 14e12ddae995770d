"""Warehouse documents of `models.documents` (issue 4 item 9), read back the way a person and a
scanner would: the text with pdfplumber, the fonts with pypdf, and every barcode by decoding the
filled rectangles on the page with the Code 128 decoder below.

The decoder is independent of reportlab: its table is the bar/space widths of the 107 symbols of
the standard (ISO/IEC 15417; the same table as ZXing's `Code128Reader.CODE_PATTERNS`). It measures
each bar and gap in modules, looks the symbols up, checks the start, the stop and the mod-103
checksum, and follows the code sets A, B and C (and the shift) to the text.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pdfplumber
import pytest
from pydantic import ValidationError
from pypdf import PdfReader

from models.documents import (
    COUNT_ROWS_PER_PAGE,
    PICK_ROWS_PER_PAGE,
    CountSheet,
    CountSheetLocation,
    PackingLine,
    PackingSlip,
    PickList,
    PickStop,
    ShippingLabel,
    count_sheet_pdf,
    mask_phone,
    packing_slip_pdf,
    pick_list_pdf,
    shipping_label_pdf,
)
from tests.support.pdf_read import (
    barcodes,
    decoded,
    page_texts,
)

# Documents -------------------------------------------------------------------------------------

SHANGHAI = timezone(timedelta(hours=8))
MM = 72 / 25.4
ADDRESS = "上海市浦东新区世纪大道100号环球金融中心45层4501室"


def stop(n: int) -> PickStop:
    # Route order is not the order of the codes: the aisles go 7, 4, 1, 8, 5, 2, … (n·7 mod 10).
    return PickStop(
        location_code=f"L{(n * 7) % 10}-{n:02d}-{(n * 3) % 5}",
        sku_code=f"SKU-{5000 - n}",
        sku_name=f"农夫山泉饮用天然水 {n}号",
        batch_no=f"B{n:04d}" if n % 4 else None,
        quantity=n % 9 + 1,
    )


def pick_list(count: int = 5, **changes: Any) -> PickList:
    fields: dict[str, Any] = {
        "task_no": "PT20250301-0007",
        "wave_no": "WV20250301-01",
        "warehouse_code": "SH01",
        "device": "PDA-12",
        "picker": "李四",
        "route_name": "optimal",
        "route_length_cm": 12345,
        "stops": tuple(stop(n) for n in range(1, count + 1)),
    }
    return PickList(**(fields | changes))


def packing_slip(**changes: Any) -> PackingSlip:
    fields: dict[str, Any] = {
        "package_no": "PK20250301000123",
        "order_no": "SO20250301000045",
        "customer_name": "张三",
        "address": ADDRESS,
        "lines": (
            PackingLine(sku_code="SKU-1001", sku_name="可口可乐 330ml×24罐", quantity=2),
            PackingLine(sku_code="SKU-1002", sku_name="百岁山矿泉水", quantity=3),
        ),
        "printed_at": datetime(2025, 3, 1, 14, 5, tzinfo=SHANGHAI),
    }
    return PackingSlip(**(fields | changes))


def shipping_label(**changes: Any) -> ShippingLabel:
    fields: dict[str, Any] = {
        "carrier_code": "SF",
        "carrier_name": "顺丰速运",
        "waybill_no": "WB0000123",
        "tracking_no": "SF1234567890123",
        "recipient_name": "王小明",
        "recipient_phone": "13812345678",
        "address": ADDRESS,
        "sender_warehouse": "上海一号仓",
        "weight_g": 1235,
        "package_no": "PK20250301000123",
        "order_no": "SO20250301000045",
    }
    return ShippingLabel(**(fields | changes))


# Pick list -------------------------------------------------------------------------------------


def test_pick_list_rows_follow_the_route_order_with_codes_batches_and_quantities() -> None:
    doc = pick_list(8)
    text = page_texts(pick_list_pdf(doc))[0]
    codes = re.findall(r"L\d-\d\d-\d", text)
    assert codes == [s.location_code for s in doc.stops]
    assert codes != sorted(codes)  # the route order, not a sorted one
    lines = text.splitlines()
    for number, s in enumerate(doc.stops, 1):
        [row] = [line for line in lines if f" {s.location_code} " in line]
        assert row.startswith(f"{number} {s.location_code} {s.sku_code} {s.sku_name} ")
        assert row.endswith(f" {s.batch_no or '-'} {s.quantity}")
    assert "WV20250301-01" in text
    assert "SH01" in text
    assert "PDA-12" in text
    assert "李四" in text
    assert "optimal, 123.45 m" in text
    assert f"Units: {sum(s.quantity for s in doc.stops)}" in text


def test_long_pick_list_runs_over_pages_with_the_header_on_each() -> None:
    doc = pick_list(60)
    texts = page_texts(pick_list_pdf(doc))
    assert len(texts) == 4 == -(-60 // PICK_ROWS_PER_PAGE)
    for page, text in enumerate(texts, 1):
        assert f"page {page} / 4" in text
        for header in ("PICK LIST", "PT20250301-0007", "WV20250301-01", "Warehouse: SH01"):
            assert header in text
    codes = [code for text in texts for code in re.findall(r"L\d-\d\d-\d", text)]
    assert codes == [s.location_code for s in doc.stops]
    per_page = [len(re.findall(r"L\d-\d\d-\d", text)) for text in texts]
    assert per_page == [PICK_ROWS_PER_PAGE] * 3 + [60 - 3 * PICK_ROWS_PER_PAGE]


def test_pick_list_barcodes_scan_as_the_task_number_and_the_locations_in_route_order() -> None:
    doc = pick_list(40)
    pages = decoded(pick_list_pdf(doc))
    assert len(pages) == 3
    locations = [code for page in pages for code in page[1:]]
    assert all(page[0] == "PT20250301-0007" for page in pages)
    assert locations == [s.location_code for s in doc.stops]


def test_chinese_text_is_set_in_the_built_in_cid_font_and_reads_back() -> None:
    pdf = pick_list_pdf(pick_list(3))
    # The font is not embedded, but its encoding UniGB-UCS2-H is a predefined CMap whose codes are
    # UCS-2, so readers map the glyphs back to text: the names are checked directly, and each of
    # their characters is set in STSong-Light (not in a substitute).
    assert "农夫山泉饮用天然水 2号" in page_texts(pdf)[0]
    with pdfplumber.open(io.BytesIO(pdf)) as document:
        chars = document.pages[0].chars
    han = [char for char in chars if "\u4e00" <= char["text"] <= "\u9fff"]
    assert {char["text"] for char in han} >= set("农夫山泉饮用天然水号拣货单李四")
    # pdfminer names the font by its descriptor: STSongStd-Light, the face of STSong-Light.
    assert {char["fontname"] for char in han} == {"STSongStd-Light"}


# Packing slip ----------------------------------------------------------------------------------


def test_packing_slip_shows_the_package_order_customer_lines_and_total() -> None:
    pdf = packing_slip_pdf(packing_slip())
    [text] = page_texts(pdf)
    lines = text.splitlines()
    assert "1 SKU-1001 可口可乐 330ml×24罐 2" in lines
    assert "2 SKU-1002 百岁山矿泉水 3" in lines
    assert "Total units: 5" in text
    assert "Order: SO20250301000045" in text
    assert "张三" in text
    assert ADDRESS in text.replace("\n", "")
    assert "Printed at: 2025-03-01 14:05+08:00" in text
    assert decoded(pdf) == [["PK20250301000123"]]


def test_packing_slip_prints_the_time_it_is_given() -> None:
    utc = packing_slip(printed_at=datetime(2025, 3, 1, 6, 5, tzinfo=UTC))
    assert "Printed at: 2025-03-01 06:05+00:00" in page_texts(packing_slip_pdf(utc))[0]


def test_a_short_picked_slip_prints_what_is_in_the_box_and_lists_the_missing_units_apart() -> None:
    boxed = PackingLine(sku_code="SKU-1001", sku_name="可口可乐 330ml×24罐", quantity=1)
    missing = (
        PackingLine(sku_code="SKU-1001", sku_name="可口可乐 330ml×24罐", quantity=1),
        PackingLine(sku_code="SKU-1002", sku_name="百岁山矿泉水", quantity=3),
    )
    [text] = page_texts(packing_slip_pdf(packing_slip(lines=(boxed,), short=missing)))
    lines = text.splitlines()
    assert "1 SKU-1001 可口可乐 330ml×24罐 1" in lines
    assert "- SKU-1001 缺货 Short / to follow: 可口可乐 330ml×24罐 (1)" in lines
    assert "- SKU-1002 缺货 Short / to follow: 百岁山矿泉水 (3)" in lines
    assert not any(line.startswith("2 ") for line in lines)  # one line in the box
    assert "Total units: 1" in text and "Total units: 5" not in text
    assert "Short / to follow: 4" in text


# Shipping label --------------------------------------------------------------------------------


def test_shipping_label_is_100_by_150_mm() -> None:
    box = PdfReader(io.BytesIO(shipping_label_pdf(shipping_label()))).pages[0].mediabox
    assert abs(float(box.width) - 100 * MM) < 0.5
    assert abs(float(box.height) - 150 * MM) < 0.5


def test_shipping_label_carries_the_shipment_with_the_phone_masked() -> None:
    [text] = page_texts(shipping_label_pdf(shipping_label()))
    for expected in ("顺丰速运", "SF", "SF1234567890123", "WB0000123", "王小明", "138****5678"):
        assert expected in text
    assert "13812345678" not in text
    assert "1.235 kg" in text
    assert "上海一号仓" in text
    assert "SO20250301000045" in text
    assert "PK20250301000123" in text
    assert ADDRESS in text.replace("\n", "")


def test_shipping_label_tracking_barcode_is_the_large_one() -> None:
    with pdfplumber.open(io.BytesIO(shipping_label_pdf(shipping_label()))) as document:
        tracking, package = barcodes(document.pages[0])
    assert (tracking.text, package.text) == ("SF1234567890123", "PK20250301000123")
    assert tracking.bottom - tracking.top >= 20 * MM > package.bottom - package.top
    assert tracking.module > package.module


@pytest.mark.parametrize(
    "tracking",
    ["SF1234567890123", "773012345678901", "JT0001234567", "YT 9876543", "abc-123.45/X", "1"],
)
def test_tracking_numbers_of_any_shape_scan_back(tracking: str) -> None:
    assert decoded(shipping_label_pdf(shipping_label(tracking_no=tracking)))[0][0] == tracking


@pytest.mark.parametrize(
    "render",
    [
        lambda: pick_list_pdf(pick_list(40)),
        lambda: packing_slip_pdf(packing_slip()),
        lambda: shipping_label_pdf(shipping_label()),
    ],
)
def test_every_barcode_is_printable_and_stands_in_a_clear_quiet_zone(
    render: Callable[[], bytes],
) -> None:
    with pdfplumber.open(io.BytesIO(render())) as document:
        for page in document.pages:
            ink = [*page.chars, *page.rects, *page.lines]
            for symbol in barcodes(page):
                assert symbol.module >= 0.25 * MM  # two dots of a 203 dpi label printer
                left, right = symbol.x0 - 10 * symbol.module, symbol.x1 + 10 * symbol.module
                assert left >= 0
                assert right <= page.width
                intruders = [
                    thing
                    for thing in ink
                    if thing["x0"] < right
                    and thing["x1"] > left
                    and thing["top"] < symbol.bottom
                    and thing["bottom"] > symbol.top
                    and not (symbol.x0 <= thing["x0"] and thing["x1"] <= symbol.x1)
                ]
                assert intruders == [], symbol.text


LONG_ADDRESS = (
    "新疆维吾尔自治区伊犁哈萨克自治州霍尔果斯市亚欧路88号国际边境合作中心B座1203室" * 3
)[:120]


@pytest.mark.parametrize(
    ("render", "column"),
    [
        (
            lambda: shipping_label_pdf(
                shipping_label(address=LONG_ADDRESS, recipient_name="欧" * 40)
            ),
            0,
        ),
        (lambda: packing_slip_pdf(packing_slip(address=LONG_ADDRESS)), 300),  # the info column
    ],
)
def test_the_longest_address_is_printed_whole_inside_the_page_over_nothing_else(
    render: Callable[[], bytes], column: float
) -> None:
    with pdfplumber.open(io.BytesIO(render())) as document:
        page = document.pages[0]
        chars = page.chars
    reading = sorted((c for c in chars if c["x0"] >= column), key=lambda c: (c["top"], c["x0"]))
    assert LONG_ADDRESS in "".join(c["text"] for c in reading)
    assert all(c["x0"] >= 0 and c["x1"] <= page.width for c in chars)
    assert all(c["top"] >= 0 and c["bottom"] <= page.height for c in chars)
    overprinted = [
        (a["text"], b["text"])
        for i, a in enumerate(chars)
        for b in chars[i + 1 :]
        if min(a["x1"], b["x1"]) - max(a["x0"], b["x0"]) > 0.5
        and min(a["bottom"], b["bottom"]) - max(a["top"], b["top"]) > 0.5
    ]
    assert overprinted == []


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812345678", "138****5678"),
        ("+86 138 1234 5678", "138****5678"),
        ("86-199-0000-1111", "199****1111"),
        ("021-62345678", "*******5678"),
        ("12345678901", "*******8901"),  # 12… is no mainland mobile prefix
    ],
)
def test_phone_masking(phone: str, masked: str) -> None:
    assert mask_phone(phone) == masked


# Determinism and validation --------------------------------------------------------------------


def test_same_input_gives_the_same_bytes_and_another_input_other_bytes() -> None:
    assert pick_list_pdf(pick_list(30)) == pick_list_pdf(pick_list(30))
    assert packing_slip_pdf(packing_slip()) == packing_slip_pdf(packing_slip())
    assert shipping_label_pdf(shipping_label()) == shipping_label_pdf(shipping_label())
    assert pick_list_pdf(pick_list()) != pick_list_pdf(pick_list(wave_no="WV20250301-02"))
    later = datetime(2025, 3, 1, 14, 6, tzinfo=SHANGHAI)
    assert packing_slip_pdf(packing_slip()) != packing_slip_pdf(packing_slip(printed_at=later))
    other = shipping_label(tracking_no="SF1234567890124")
    assert shipping_label_pdf(shipping_label()) != shipping_label_pdf(other)


def test_a_reprint_in_another_process_is_byte_identical() -> None:
    script = (
        "import sys; from tests.unit.test_documents import shipping_label;"
        "from models.documents import shipping_label_pdf;"
        "sys.stdout.buffer.write(shipping_label_pdf(shipping_label()))"
    )
    env = os.environ | {"PYTHONHASHSEED": "12345"}
    root = Path(__file__).resolve().parents[2]
    reprint = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, check=True, env=env, cwd=root
    ).stdout
    assert reprint == shipping_label_pdf(shipping_label())


ZERO_QUANTITY = {"location_code": "A1", "sku_code": "S1", "sku_name": "水", "quantity": 0}


@pytest.mark.parametrize(
    ("build", "where"),
    [
        (lambda: pick_list(task_no="  "), ("task_no",)),
        (lambda: pick_list(task_no="任务7"), ("task_no",)),
        (lambda: pick_list(0), ("stops",)),
        (lambda: pick_list(stops=(stop(1), ZERO_QUANTITY)), ("stops", 1, "quantity")),
        (lambda: PickStop(**ZERO_QUANTITY), ("quantity",)),
        (lambda: packing_slip(lines=()), ("lines",)),
        (lambda: PackingLine(sku_code="S", sku_name=" ", quantity=1), ("sku_name",)),
        (lambda: packing_slip(printed_at=datetime(2025, 3, 1, 14, 5)), ("printed_at",)),
        (lambda: packing_slip(order_no=""), ("order_no",)),
        (lambda: shipping_label(tracking_no=""), ("tracking_no",)),
        (lambda: shipping_label(weight_g=0), ("weight_g",)),
        (lambda: shipping_label(recipient_phone="call me"), ("recipient_phone",)),
    ],
)
def test_invalid_input_is_refused_naming_the_field(
    build: Callable[[], object], where: tuple[str | int, ...]
) -> None:
    with pytest.raises(ValidationError) as refused:
        build()
    assert [error["loc"] for error in refused.value.errors()] == [where]


# The count sheet (盘点表) --------------------------------------------------------------------


def count_sheet(n: int) -> CountSheet:
    return CountSheet(
        count_no="SC20261206000042",
        warehouse_code="SH01",
        created_by="user:warehouse_manager",
        locations=tuple(
            CountSheetLocation(code=f"A-{k:02d}-01-1", barcode=f"SH01-A-{k:02d}-01-1")
            for k in range(1, n + 1)
        ),
    )


def test_a_count_sheet_lists_every_location_with_its_barcode_and_a_blank_to_write_in() -> None:
    doc = count_sheet(COUNT_ROWS_PER_PAGE + 3)
    pdf = count_sheet_pdf(doc)
    texts = page_texts(pdf)
    assert len(texts) == 2
    for page, text in enumerate(texts, 1):
        assert f"page {page} / 2" in text and "COUNT SHEET" in text and "SC20261206000042" in text
        assert "Blind count" in text
    lines = [line for text in texts for line in text.splitlines()]
    for number, location in enumerate(doc.locations, 1):
        # The row holds its number and the location, nothing else: no book quantity.
        [row] = [line for line in lines if f" {location.code}" in line and "SH01-" not in line]
        assert row.strip() == f"{number} {location.code}"
    pages = decoded(pdf)
    assert all(page[0] == "SC20261206000042" for page in pages)
    assert [code for page in pages for code in page[1:]] == [x.barcode for x in doc.locations]
    assert count_sheet_pdf(doc) == pdf  # a reprint is the same document
