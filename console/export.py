"""Streamed exports: CSV and XLSX written row by row as the API's pages arrive, so a list of
100,000 rows never sits in memory (the workbook is built in a temporary file in constant-memory
mode, then streamed)."""

from __future__ import annotations

import asyncio
import csv
import io
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

import xlsxwriter
from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from console.client import ApiClient, Json, NotFound, connect
from console.pages import client_address, console_state
from console.security import session_token
from models.domain.business_day import BUSINESS_TZ

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXPORT_PAGE = 500  # the API's largest page
CHUNK = 64 * 1024
BOM = "\ufeff"  # spreadsheet programs read the CSV as UTF-8 only with it


Rows = Callable[[ApiClient], AsyncIterator[Sequence[str]]]


def download(
    request: Request, *, kind: str, name: str, sheet: str, header: Sequence[str], rows: Rows
) -> Response:
    """The one way every console list is exported: a streamed CSV or XLSX (`kind`, anything
    else is not found) of the rows `rows` yields, fetched while the file is written with the
    person's own token (the page's client is closed by then)."""
    if kind not in ("csv", "xlsx"):
        raise NotFound
    token, _ = session_token(request)
    address = client_address(request)
    api_app = console_state(request).api

    async def streamed() -> AsyncIterator[Sequence[str]]:
        async with connect(api_app, token, address) as api:
            async for row in rows(api):
                yield row

    stamp = datetime.now(BUSINESS_TZ).strftime("%Y%m%d-%H%M%S")
    headers = {"Content-Disposition": f'attachment; filename="{name}-{stamp}.{kind}"'}
    if kind == "csv":
        stream = csv_stream(header, streamed())
        return StreamingResponse(stream, media_type="text/csv; charset=utf-8", headers=headers)
    return StreamingResponse(
        xlsx_stream(sheet, header, streamed()), media_type=XLSX, headers=headers
    )


def listed(
    path: str, params: Mapping[str, Any], row: Callable[[Json], Sequence[str] | None]
) -> Rows:
    """The rows of a /v1 list under its filters, page by page, each shown by `row` (None: left
    out, for a filter the console applies to a short list)."""

    async def rows(api: ApiClient) -> AsyncIterator[Sequence[str]]:
        async for item in every_row(api, path, params):
            shown = row(item)
            if shown is not None:
                yield shown

    return rows


async def every_row(api: ApiClient, path: str, params: Mapping[str, Any]) -> AsyncIterator[Json]:
    """All rows of a list endpoint under the given filters, one API page at a time."""
    skip = 0
    while True:
        page = await api.get(path, {**params, "skip": skip, "limit": EXPORT_PAGE})
        for row in page["data"]:
            yield row
        skip += len(page["data"])
        if len(page["data"]) < EXPORT_PAGE:
            return
        if not page.get("count_capped") and skip >= int(page["count"]):
            return  # an exact count reached (a capped one: page on until a short page)


async def csv_stream(
    header: Sequence[str], rows: AsyncIterator[Sequence[str]]
) -> AsyncIterator[bytes]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    yield (BOM + buffer.getvalue()).encode()
    async for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row)
        yield buffer.getvalue().encode()


async def xlsx_stream(
    sheet: str, header: Sequence[str], rows: AsyncIterator[Sequence[str]]
) -> AsyncIterator[bytes]:
    fd, path = tempfile.mkstemp(prefix="houtai-export-", suffix=".xlsx")
    os.close(fd)
    try:
        workbook = xlsxwriter.Workbook(path, {"constant_memory": True, "in_memory": False})
        worksheet = workbook.add_worksheet(sheet[:31])
        bold = workbook.add_format({"bold": True})
        worksheet.write_row(0, 0, header, bold)
        number = 1
        async for row in rows:
            worksheet.write_row(number, 0, row)
            number += 1
        await asyncio.to_thread(workbook.close)
        async for chunk in _chunks(path):
            yield chunk
    finally:
        os.unlink(path)


async def _chunks(path: str) -> AsyncIterator[bytes]:
    with open(path, "rb") as file:  # noqa: ASYNC230 - read in chunks off the event loop below
        while chunk := await asyncio.to_thread(file.read, CHUNK):
            yield chunk
