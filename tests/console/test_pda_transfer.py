"""Receiving a transfer on the handheld (/pda/transfer): GZ01's worker scans the TR number, a
SKU not on it is refused, counts good and damaged units, books the receipt once (the same
screen's post sent again books nothing twice); the transfer is closed with its short recorded
and the stock is where it should be."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import func, select

from api.deps import AppDeps
from models.db import Stock, StockMovement
from tests.console.test_pda_pages import _field, _paired_and_signed_in
from tests.support.console import browser, csrf_of, text_of
from tests.support.order_api import staff
from tests.support.stack import Stack
from tests.support.transfer_flow import in_transit
from tests.support.transfers import books


async def test_a_transfer_is_received_once_on_the_handheld(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    number, sku, sh, gz = await in_transit(stack, api, 4, "pda-tr")
    before = await books(stack, sku, sh, gz)
    ops = await staff(api, "ops")
    barcode = (await api.get(f"/v1/skus/{sku}", headers=ops)).json()["barcode"]
    listed = (await api.get("/v1/skus", params={"limit": 50}, headers=ops)).json()["data"]
    stranger = next(s["barcode"] for s in listed if s["id"] != sku)
    async with browser(deps) as pda:
        await _paired_and_signed_in(pda, api, stack, gz)
        home = await pda.get("/pda/")
        assert 'href="/pda/transfer"' in home.text and "调拨收货" in text_of(home.text)
        nothing = await pda.post("/pda/transfer", data={"csrf": csrf_of(pda), "code": "PO123"})
        assert "没有这张调拨单" in text_of((await pda.get(nothing.headers["location"])).text)
        found = await pda.post("/pda/transfer", data={"csrf": csrf_of(pda), "code": number})
        assert found.headers["location"] == f"/pda/transfer/{number}"
        page = await pda.get(found.headers["location"])
        assert f"调拨单 {number}" in text_of(page.text) and "在途" in text_of(page.text)

        wrong = await pda.get(f"/pda/transfer/{number}", params={"sku": stranger})
        assert "result-error" in wrong.text and "不在这张调拨单上" in text_of(wrong.text)
        chosen = await pda.get(f"/pda/transfer/{number}", params={"sku": barcode})
        assert 'name="good"' in chosen.text and "发出 4 件" in text_of(chosen.text)
        counted = await pda.post(
            f"/pda/transfer/{number}/count",
            data={"csrf": csrf_of(pda), "counts": "", "line_no": "1", "good": "2",
                  "damaged": "1"},
        )  # fmt: skip
        page = await pda.get(counted.headers["location"])
        assert "已全部清点" in text_of(page.text)
        assert re.search(r'id="line-1">.*?<td class="good">2</td><td class="damaged">1</td>',
                         page.text, re.S)  # fmt: skip
        form = {"csrf": csrf_of(pda), "scan_id": _field(page.text, "scan_id"),
                "counts": _field(page.text, "counts")}  # fmt: skip
        booked = await pda.post(f"/pda/transfer/{number}/receive", data=form)
        again = await pda.post(f"/pda/transfer/{number}/receive", data=form)  # answer lost
        assert booked.headers["location"] == again.headers["location"]
        done = await pda.get(booked.headers["location"])
        assert "已收货，调拨单已关闭" in text_of(done.text) and "result-ok" in done.text

    shown = (await api.get(f"/v1/transfers/{number}", headers=ops)).json()
    [line] = shown["lines"]
    assert shown["status"] == "closed"
    assert (line["good"], line["damaged"], line["short"]) == (2, 1, 1)
    after = await books(stack, sku, sh, gz)
    assert after.destination == (before.destination[0] + 3, 0, before.destination[2] - 4)
    assert after.units == before.units - 1
    async with stack.sessions() as session:
        arrived = await session.scalar(
            select(func.count()).where(
                StockMovement.ref_no == number, StockMovement.movement_type == "transfer_arrived"
            )
        )
        stock = await session.get(Stock, (sku, gz))
    assert arrived == 1 and stock is not None
