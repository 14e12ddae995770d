"""Exports stream: 100,000 rows go out page by page without being held in memory."""

from __future__ import annotations

import csv
import io
import tracemalloc
import zipfile
from collections.abc import AsyncIterator, Sequence
from typing import Any

from console.client import ApiClient, Json
from console.export import EXPORT_PAGE, csv_stream, every_row, xlsx_stream

ROWS = 100_000


class PagedApi(ApiClient):
    """A list endpoint of ROWS rows that answers pages like /v1 does, counting the calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Json:
        assert params is not None and params["limit"] == EXPORT_PAGE
        self.calls += 1
        skip = params["skip"]
        data = [
            {"order_no": f"SO{n:012d}", "payable_fen": n}
            for n in range(skip, min(skip + EXPORT_PAGE, ROWS))
        ]
        return {"data": data, "count": ROWS}


async def rows(api: PagedApi) -> AsyncIterator[Sequence[str]]:
    async for row in every_row(api, "/v1/orders", {"status": "paid"}):
        yield [row["order_no"], str(row["payable_fen"])]


async def drain(stream: AsyncIterator[bytes]) -> tuple[int, bytes, bytes]:
    """Consume the stream keeping only its size, its head and its tail (as a server does)."""
    size, head, tail = 0, b"", b""
    async for chunk in stream:
        size += len(chunk)
        head = head if len(head) > 1000 else head + chunk
        tail = (tail + chunk)[-200_000:]
    return size, head, tail


async def test_a_100000_row_csv_export_streams_in_bounded_memory() -> None:
    api = PagedApi()
    tracemalloc.start()
    try:
        size, head, tail = await drain(csv_stream(["order", "payable"], rows(api)))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert api.calls == ROWS // EXPORT_PAGE
    assert size > 2_000_000  # the whole export went out ...
    assert peak < 2_000_000  # ... while never more than a page was held
    first = list(csv.reader(io.StringIO(head.decode("utf-8-sig"))))
    assert first[:2] == [["order", "payable"], ["SO000000000000", "0"]]
    assert tail.decode().splitlines()[-1] == f"SO{ROWS - 1:012d},{ROWS - 1}"


async def test_a_100000_row_xlsx_export_is_built_in_constant_memory() -> None:
    api = PagedApi()
    tracemalloc.start()
    try:
        chunks = []
        async for chunk in xlsx_stream("orders", ["order", "payable"], rows(api)):
            chunks.append(chunk)
            _, peak = tracemalloc.get_traced_memory()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    workbook = b"".join(chunks)  # kept here only to check the file afterwards
    assert api.calls == ROWS // EXPORT_PAGE
    # Writing 100,000 rows held at most a few MB (chunks of the finished file included).
    assert peak - len(workbook) < 8_000_000
    with zipfile.ZipFile(io.BytesIO(workbook)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    assert sheet.count(b"<row ") == ROWS + 1
    assert f"SO{ROWS - 1:012d}".encode() in sheet
