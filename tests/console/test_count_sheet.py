"""The console's count page: the manager who approves sees the book and the differences and
prints the blind count sheet; staff who may read stock but not approve counts see the count
blind (what was counted, no book figure)."""

from __future__ import annotations

import io

import httpx
from pypdf import PdfReader

from api.deps import AppDeps
from models.db import Location
from tests.support.console import browser, signed_in, text_of
from tests.support.counting import lone_batches
from tests.support.order_api import staff, warehouse_id
from tests.support.stack import Stack


async def test_the_count_page_prints_the_sheet_and_is_blind_to_those_who_do_not_approve(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    sh01 = await warehouse_id(stack, "SH01")
    [batch] = await lone_batches(stack, sh01, 1, at_least=2)
    async with stack.sessions() as session:
        location = await session.get_one(Location, batch.location_id)
    manager = await staff(api, "warehouse_manager")
    opened = await api.post(
        f"/v1/warehouses/{sh01}/counts", json={"location_ids": [location.id]}, headers=manager
    )
    number = opened.json()["count_no"]
    book = f'<td class="num">{batch.quantity}</td>'

    async with browser(deps) as web:
        await signed_in(web, "warehouse_manager")
        page = await web.get(f"/console/counts/{number}")
        assert page.status_code == 200
        assert f'href="/console/counts/{number}/count-sheet.pdf"' in page.text
        assert book in page.text and 'id="count-blind"' not in page.text  # the book, to approve
        sheet = await web.get(f"/console/counts/{number}/count-sheet.pdf")
        assert sheet.status_code == 200 and sheet.headers["content-type"] == "application/pdf"
        words = "".join(p.extract_text() for p in PdfReader(io.BytesIO(sheet.content)).pages)
        assert number in words and location.code in words

    async with browser(deps) as web:
        await signed_in(web, "ops")  # reads stock, does not approve counts
        page = await web.get(f"/console/counts/{number}")
        assert page.status_code == 200
        assert "盲盘" in text_of(page.text) and book not in page.text
        assert "暂无差异" in text_of(page.text)
