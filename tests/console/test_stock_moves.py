"""The stock page's move form (移库): the next page shows the units at their new location and
the two ledger rows, on_hand unchanged; a resubmitted form moves once; too many is refused next
to the form and changes nothing; a role without stock.move sees no form."""

from __future__ import annotations

import re

from sqlalchemy import select

from api.deps import AppDeps
from models.db import Location, LocationStock, Stock
from tests.support.console import browser, csrf_of, signed_in, text_of
from tests.support.invariants import assert_stock_invariants
from tests.support.order_api import only_in, warehouse_id
from tests.support.stack import Stack


async def _at(stack: Stack, sku: int, location: int, batch_no: str) -> int:
    async with stack.sessions() as session:
        await assert_stock_invariants(session)
        quantity = await session.scalar(
            select(LocationStock.quantity).where(
                LocationStock.sku_id == sku,
                LocationStock.location_id == location,
                LocationStock.batch_no == batch_no,
            )
        )
        return quantity or 0


async def test_the_move_form_moves_units_once_and_shows_them(stack: Stack, deps: AppDeps) -> None:
    sh01 = await warehouse_id(stack, "SH01")
    sku = await only_in(stack, "SH01")
    async with stack.sessions() as session:
        batch = (
            await session.scalars(
                select(LocationStock)
                .where(
                    LocationStock.sku_id == sku,
                    LocationStock.warehouse_id == sh01,
                    LocationStock.quantity - LocationStock.reserved >= 2,
                    ~LocationStock.disabled,
                )
                .order_by(LocationStock.id)
            )
        ).first()
        assert batch is not None
        target = await session.scalar(
            select(Location)
            .where(
                Location.warehouse_id == sh01,
                Location.active,
                Location.kind == "storage",
                Location.id != batch.location_id,
            )
            .order_by(Location.id)
        )
        assert target is not None
        stock = await session.get_one(Stock, (sku, sh01))
        on_hand = stock.on_hand
    source, batch_no, free = batch.location_id, batch.batch_no, batch.quantity - batch.reserved
    there = await _at(stack, sku, target.id, batch_no)
    page = f"/console/stock/{sku}/{sh01}"

    async with browser(deps) as ops:  # may read stock, may not move it
        await signed_in(ops, "ops")
        shown = await ops.get(page)
        assert shown.status_code == 200 and 'id="move"' not in shown.text

    async with browser(deps) as web:
        await signed_in(web, "warehouse_manager")
        shown = await web.get(page)
        assert 'id="move"' in shown.text
        move_id = re.findall(r'name="move_id" value="([^"]+)"', shown.text)[0]
        form = {
            "batch_id": str(batch.id),
            "to_location_id": str(target.id),
            "quantity": "2",
            "move_id": move_id,
            "csrf": csrf_of(web),
        }

        forged = await web.post(f"{page}/move", data={**form, "csrf": "forged"})
        assert forged.status_code == 403 and "请求已失效" in forged.text
        too_many = await web.post(f"{page}/move", data={**form, "quantity": str(free + 1)})
        assert too_many.status_code == 409 and 'id="refusal"' in too_many.text
        assert await _at(stack, sku, source, batch_no) == batch.quantity

        done = await web.post(f"{page}/move", data=form)
        assert done.status_code == 303, re.findall(r"id=\"refusal\">([^<]*)", done.text)
        assert done.headers["location"] == f"{page}?done=moved"
        again = await web.post(f"{page}/move", data=form)  # the same form sent twice
        assert again.status_code == 303

        after = await web.get(done.headers["location"])
        assert "已移库" in after.text
        assert int(re.findall(r'id="on-hand">(-?\d+)<', after.text)[0]) == on_hand
        batches = text_of(after.text.split('id="batches"')[1].split("</section>")[0])
        assert target.code in batches
        ledger = text_of(after.text.split('id="ledger"')[1])
        assert "移库出" in ledger and "移库入" in ledger and move_id in ledger

    assert await _at(stack, sku, source, batch_no) == batch.quantity - 2
    assert await _at(stack, sku, target.id, batch_no) == there + 2
    async with stack.sessions() as session:
        stock = await session.get_one(Stock, (sku, sh01), populate_existing=True)
        assert stock.on_hand == on_hand
