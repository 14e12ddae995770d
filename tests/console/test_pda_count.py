"""The handheld's blind count screen (盲盘): choose the open count, scan a location, scan SKUs
(one scan one unit, or a typed quantity), "location done"; a resent scan counts once, a location
outside the count is refused on the screen, and no book quantity is ever shown on it."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select

from api.deps import AppDeps
from models.db import Location, Sku
from tests.console.test_pda_pages import _paired_and_signed_in
from tests.support.console import browser, csrf_of, text_of
from tests.support.counting import lone_batches
from tests.support.order_api import staff, warehouse_id
from tests.support.stack import Stack


async def test_a_blind_count_on_the_handheld_counts_each_scan_once(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    sh01 = await warehouse_id(stack, "SH01")
    [batch] = await lone_batches(stack, sh01, 1)
    async with stack.sessions() as session:
        location = await session.get_one(Location, batch.location_id)
        sku = await session.get_one(Sku, batch.sku_id)
        elsewhere = await session.scalar(
            select(Location).where(Location.warehouse_id == sh01, Location.id != location.id)
        )
    assert elsewhere is not None
    manager = await staff(api, "warehouse_manager")
    opened = await api.post(
        f"/v1/warehouses/{sh01}/counts", json={"location_ids": [location.id]}, headers=manager
    )
    assert opened.status_code == 201, opened.text
    number = opened.json()["count_no"]

    async with browser(deps) as pda:
        await _paired_and_signed_in(pda, api, stack, sh01)
        assert 'id="go-count"' in (await pda.get("/pda/")).text
        start = await pda.get("/pda/count")
        assert number in start.text
        chosen = await pda.post("/pda/count", data={"csrf": csrf_of(pda), "code": number})
        assert chosen.headers["location"] == f"/pda/count/{number}"
        overview = await pda.get(f"/pda/count/{number}")
        assert location.code in overview.text and "扫描下一个要盘的库位" in text_of(overview.text)
        assert "待盘" in text_of(overview.text)  # blind: what is to count, not what the book says
        wrong = await pda.get(f"/pda/count/{number}", params={"loc": elsewhere.barcode})
        assert "该库位不在本次盘点范围内" in text_of(wrong.text) and "result-error" in wrong.text
        at = await pda.get(f"/pda/count/{number}", params={"loc": location.barcode})
        assert "逐件扫描" in text_of(at.text) and "尚未清点" in text_of(at.text)
        assert f">{batch.quantity}<" not in at.text

        scan_id = re.findall(r'name="scan_id" value="([^"]+)"', at.text)[0]
        form = {
            "csrf": csrf_of(pda),
            "scan_id": scan_id,
            "location": location.barcode,
            "sku": sku.barcode,
            "quantity": "",
            "batch": batch.batch_no if sku.batch_managed else "",
        }
        first = await pda.post(f"/pda/count/{number}", data=form)
        again = await pda.post(f"/pda/count/{number}", data=form)  # the answer was lost
        assert first.headers["location"] == again.headers["location"]
        assert "ok=1&msg=counted" in first.headers["location"]
        typed = await pda.post(
            f"/pda/count/{number}", data={**form, "scan_id": scan_id + "b", "quantity": "4"}
        )
        assert "msg=counted" in typed.headers["location"]
        unknown = await pda.post(
            f"/pda/count/{number}", data={**form, "scan_id": scan_id + "c", "sku": "NO-SKU"}
        )
        assert "ok=0&msg=sku" in unknown.headers["location"]
        outside = await pda.post(
            f"/pda/count/{number}",
            data={**form, "scan_id": scan_id + "d", "location": elsewhere.barcode},
        )
        assert "ok=0&msg=location" in outside.headers["location"]
        shown = await pda.get(first.headers["location"])
        assert "已计数" in text_of(shown.text) and "result-ok" in shown.text
        assert re.search(
            r'class="qty">5<', shown.text
        )  # 1 + 4 counted here, the scan sent twice once
        done = await pda.get(f"/pda/count/{number}", params={"ok": 1, "msg": "location_done",
                                                             "done": location.code})  # fmt: skip
        assert "已盘 5 件" in text_of(done.text)
        seen = (await api.get(f"/v1/counts/{number}", headers=manager)).json()
        assert seen["entries"] == 2
        assert [(c["location_id"], c["sku_id"], c["quantity"]) for c in seen["counted"]] == [
            (location.id, sku.id, 5)
        ]
        book = [(d["book"], d["counted"]) for d in seen["differences"] if d["sku_id"] == sku.id]
        assert book == ([] if batch.quantity == 5 else [(batch.quantity, 5)])

        approved = await api.post(f"/v1/counts/{number}/approve", headers=manager)
        assert approved.status_code == 200, approved.text
        closed = await pda.get(f"/pda/count/{number}")
        assert closed.headers["location"] == "/pda/count?msg=closed"
        late = await pda.post(f"/pda/count/{number}", data={**form, "scan_id": scan_id + "e"})
        assert "ok=0&msg=refused" in late.headers["location"]
        assert number not in (await pda.get("/pda/count")).text  # no longer open
