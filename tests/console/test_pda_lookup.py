"""The handheld's lookup screen: a location's barcode shows what is kept there, a SKU's barcode
where it is in this warehouse; a location being counted shows no quantity (blind count)."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import func, select

from api.deps import AppDeps
from models.db import Location, LocationStock, Sku
from tests.console.test_pda_pages import _paired_and_signed_in
from tests.support.console import browser, text_of
from tests.support.counting import lone_batches
from tests.support.order_api import staff, warehouse_id
from tests.support.stack import Stack


def _qty_cells(html: str) -> list[str]:
    return re.findall(r'<td class="qty">([^<]*)</td>', html)


async def test_the_handheld_shows_what_is_at_a_location_and_where_a_sku_is(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    sh01 = await warehouse_id(stack, "SH01")
    [batch] = await lone_batches(stack, sh01, 1)
    async with stack.sessions() as session:
        location = await session.get_one(Location, batch.location_id)
        sku = await session.get_one(Sku, batch.sku_id)
        places = await session.scalar(
            select(func.count()).where(
                LocationStock.sku_id == sku.id,
                LocationStock.warehouse_id == sh01,
                LocationStock.quantity > 0,
            )
        )
    async with browser(deps) as pda:
        await _paired_and_signed_in(pda, api, stack, sh01)
        assert 'id="go-lookup"' in (await pda.get("/pda/")).text
        at = await pda.get("/pda/lookup", params={"code": location.barcode})
        assert f"库位 {location.code}" in text_of(at.text) and sku.code in at.text
        assert _qty_cells(at.text) == [str(batch.quantity)] and "result-ok" in at.text
        where = await pda.get("/pda/lookup", params={"code": sku.barcode})
        assert "在本仓的位置" in text_of(where.text) and location.code in where.text
        assert len(_qty_cells(where.text)) == places
        unknown = await pda.get("/pda/lookup", params={"code": "NOTHING-HERE"})
        assert "本仓没有条码为 NOTHING-HERE 的库位或 SKU" in text_of(unknown.text)
        assert "result-error" in unknown.text

        manager = await staff(api, "warehouse_manager")
        opened = await api.post(
            f"/v1/warehouses/{sh01}/counts", json={"location_ids": [location.id]}, headers=manager
        )
        assert opened.status_code == 201, opened.text
        counting = await pda.get("/pda/lookup", params={"code": location.barcode})
        assert "盘点中：不显示数量" in text_of(counting.text) and sku.code in counting.text
        assert _qty_cells(counting.text) == ["—"]
