"""The handheld's move screen (移库): scan the location, the SKU, enter the quantity, scan the
destination; the units move once however often the screen's action is sent, too many is refused
on the screen and changes nothing."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import func, select

from api.deps import AppDeps
from models.db import Location, LocationStock, Sku, Stock
from tests.console.test_pda_pages import _paired_and_signed_in
from tests.support.console import browser, csrf_of, text_of
from tests.support.invariants import assert_stock_invariants
from tests.support.order_api import warehouse_id
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


async def test_the_handheld_moves_units_once_by_scans(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    sh01 = await warehouse_id(stack, "SH01")
    async with stack.sessions() as session:
        # A location holding exactly one batch of a SKU, with units free to move.
        alone = (
            select(LocationStock.location_id, LocationStock.sku_id)
            .where(LocationStock.warehouse_id == sh01)
            .group_by(LocationStock.location_id, LocationStock.sku_id)
            .having(func.count() == 1)
        )
        batch = (
            await session.scalars(
                select(LocationStock)
                .where(
                    LocationStock.warehouse_id == sh01,
                    LocationStock.quantity - LocationStock.reserved >= 3,
                    ~LocationStock.disabled,
                    LocationStock.location_id.in_(
                        alone.with_only_columns(LocationStock.location_id)
                    ),
                )
                .order_by(LocationStock.id)
            )
        ).first()
        assert batch is not None
        source = await session.get_one(Location, batch.location_id)
        sku = await session.get_one(Sku, batch.sku_id)
        target = await session.scalar(
            select(Location)
            .where(
                Location.warehouse_id == sh01,
                Location.active,
                Location.kind == "storage",
                Location.id != source.id,
            )
            .order_by(Location.id)
        )
        assert target is not None
        on_hand = (await session.get_one(Stock, (sku.id, sh01))).on_hand
    start, there = batch.quantity, await _at(stack, sku.id, target.id, batch.batch_no)

    async with browser(deps) as pda:
        await _paired_and_signed_in(pda, api, stack, sh01)
        assert 'id="go-move"' in (await pda.get("/pda/")).text
        page = await pda.get("/pda/move")
        assert page.status_code == 200
        scan_id = re.findall(r'name="scan_id" value="([^"]+)"', page.text)[0]
        form = {
            "csrf": csrf_of(pda),
            "scan_id": scan_id,
            "source": source.barcode,
            "sku": sku.barcode,
            "quantity": "2",
            "target": target.barcode,
            "batch_no": batch.batch_no,
        }

        too_many = await pda.post("/pda/move", data={**form, "quantity": str(10**8)})
        assert too_many.headers["location"] == "/pda/move?ok=0&msg=move_refused"
        assert await _at(stack, sku.id, source.id, batch.batch_no) == start
        unknown = await pda.post("/pda/move", data={**form, "target": "NO-SUCH-PLACE"})
        assert unknown.headers["location"] == "/pda/move?ok=0&msg=move_location"

        first = await pda.post("/pda/move", data=form)
        again = await pda.post("/pda/move", data=form)  # the answer was lost: sent again
        assert first.headers["location"] == again.headers["location"] == "/pda/move?ok=1&msg=moved"
        shown = await pda.get(first.headers["location"])
        assert "移库完成" in text_of(shown.text) and "result-ok" in shown.text

    assert await _at(stack, sku.id, source.id, batch.batch_no) == start - 2
    assert await _at(stack, sku.id, target.id, batch.batch_no) == there + 2
    async with stack.sessions() as session:
        stock = await session.get_one(Stock, (sku.id, sh01), populate_existing=True)
        assert stock.on_hand == on_hand
