"""Putaway on the handheld (/pda/putaway): a PO line received with the location left empty lands
in the warehouse's receiving location and waits there as a putaway task; the screen shows it
with its suggested location, refuses a wrong first scan, puts part and then the rest (the same
screen's post sent again moves once), and then says there is nothing left."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from api.deps import AppDeps
from models.db import Location, LocationStock, PutawayTask, StockMovement
from tests.console.test_pda_pages import _field, _paired_and_signed_in
from tests.support.console import browser, csrf_of, text_of
from tests.support.invariants import assert_stock_invariants
from tests.support.order_api import staff
from tests.support.purchasing import approved_po, sent
from tests.support.stack import Stack


async def _at(stack: Stack, sku: int, location: int) -> int:
    async with stack.sessions() as session:
        await assert_stock_invariants(session)
        units = await session.scalars(
            select(LocationStock.quantity).where(
                LocationStock.sku_id == sku, LocationStock.location_id == location
            )
        )
        return sum(units)


async def test_a_line_received_into_receiving_is_put_away_on_the_handheld(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    po, skus, sh01 = await approved_po(stack, api, (8, 40))
    po_no = po["po_no"]
    await sent(api, po_no, await staff(api, "purchasing"))
    ops = await staff(api, "ops")
    sku = (await api.get(f"/v1/skus/{skus[0]}", headers=ops)).json()
    async with stack.sessions() as session:
        receiving = await session.scalar(
            select(Location).where(Location.warehouse_id == sh01, Location.kind == "receiving")
        )
        assert receiving is not None
    async with browser(deps) as pda:
        await _paired_and_signed_in(pda, api, stack, sh01)
        home = await pda.get("/pda/")
        assert 'href="/pda/putaway"' in home.text and "上架" in text_of(home.text)
        page = await pda.get(f"/pda/receive/{po_no}", params={"sku": sku["barcode"]})
        form = {
            "csrf": csrf_of(pda),
            "scan_id": _field(page.text, "scan_id"),
            "code": sku["barcode"],
            "accepted": "8",
            "rejected": "0",
            "location": "",
        }
        if sku["batch_managed"]:
            form |= {"batch": "B2612", "produced": "2026-11-01", "expires": "2027-11-01"}
        received = await pda.post(f"/pda/receive/{po_no}", data=form)
        assert "ok=1&msg=received" in received.headers["location"], received.headers["location"]
        assert await _at(stack, skus[0], receiving.id) == 8  # left empty: the receiving area
        async with stack.sessions() as session:
            task = await session.scalar(
                select(PutawayTask).where(
                    PutawayTask.sku_id == skus[0], PutawayTask.warehouse_id == sh01
                )
            )
            assert task is not None and task.quantity == 8 and task.status == "open"
            suggested = await session.get_one(Location, task.suggested_location_id)

        screen = await pda.get("/pda/putaway")
        shown = text_of(screen.text)
        assert task.task_no in shown and suggested.code in shown and "请扫描商品" in shown
        wrong = await pda.get("/pda/putaway", params={"task": task.task_no, "scanned": "NOPE"})
        assert "result-error" in wrong.text and "扫错了" in text_of(wrong.text)
        assert 'name="location"' not in wrong.text
        right = await pda.get(
            "/pda/putaway", params={"task": task.task_no, "scanned": sku["barcode"]}
        )
        assert 'name="location"' in right.text and f"放到 {suggested.code}" in text_of(right.text)
        part = {
            "csrf": csrf_of(pda),
            "scan_id": _field(right.text, "scan_id"),
            "scanned": sku["barcode"],
            "location": suggested.barcode,
            "quantity": "5",
        }
        first = await pda.post(f"/pda/putaway/{task.task_no}", data=part)
        again = await pda.post(f"/pda/putaway/{task.task_no}", data=part)  # the answer got lost
        assert first.headers["location"] == again.headers["location"]
        assert "msg=put_part" in first.headers["location"]
        after = await pda.get(first.headers["location"])
        assert "result-ok" in after.text and '<dd class="qty" id="remaining">3</dd>' in after.text
        assert await _at(stack, skus[0], receiving.id) == 0 + 3
        assert await _at(stack, skus[0], suggested.id) >= 5

        bad_place = {
            **part,
            "scan_id": _field(after.text, "scan_id"),
            "location": receiving.barcode,
            "quantity": "3",
        }
        refused = await pda.post(f"/pda/putaway/{task.task_no}", data=bad_place)
        assert "msg=location" in refused.headers["location"]
        rest = {**bad_place, "scan_id": "pda-rest-000001", "location": suggested.barcode}
        done = await pda.post(f"/pda/putaway/{task.task_no}", data=rest)
        assert "msg=put_done" in done.headers["location"]
        final = await pda.get(done.headers["location"])
        assert task.task_no in text_of(final.text) and "上架完成" in text_of(final.text)
    assert await _at(stack, skus[0], receiving.id) == 0
    async with stack.sessions() as session:
        rows = (
            await session.execute(
                select(
                    StockMovement.movement_type,
                    StockMovement.location_id,
                    StockMovement.on_hand_delta,
                )
                .where(StockMovement.ref_type == "putaway", StockMovement.ref_no == task.task_no)
                .order_by(StockMovement.id)
            )
        ).all()
        closed = await session.get_one(PutawayTask, task.task_no, populate_existing=True)
    assert [tuple(r) for r in rows] == [
        ("move_out", receiving.id, -5), ("move_in", suggested.id, 5),
        ("move_out", receiving.id, -3), ("move_in", suggested.id, 3),
    ]  # fmt: skip
    assert (closed.status, closed.put) == ("done", 8)
    assert closed.done_by is not None and "PDA-S1" in closed.done_by
