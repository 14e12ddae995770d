"""Lists whose filters match more rows than the API counts (COUNT_CAP): the API says
`count_capped`, the console shows "more than N" and keeps offering the next page, and an export
still holds every matching row. The cap is lowered here so a few orders cross it."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from api import pagination
from api.deps import AppDeps
from tests.support.console import browser, signed_in, text_of
from tests.support.order_api import lines_of, order_body, place_order, skus_in, staff
from tests.support.stack import Stack


async def test_a_capped_count_pages_on_and_exports_every_row(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    [sku] = await skus_in(stack, "SH01")
    placed = [
        (await place_order(api, order_body(lines_of((sku, 1)), key=f"cap-{i}")))["order_no"]
        for i in range(4)
    ]
    monkeypatch.setattr(pagination, "COUNT_CAP", 2)
    monkeypatch.setattr("console.orders.PAGE_SIZE", 2)
    async with browser(deps) as web:
        ops = await staff(web, "ops")
        listed = (await web.get("/v1/orders", params={"limit": 1}, headers=ops)).json()
        assert (listed["count"], listed["count_capped"]) == (2, True)
        few = (await web.get("/v1/orders", params={"status": "rejected"}, headers=ops)).json()
        assert few == {"data": [], "count": 0}  # an exact count answers as it always did

        await signed_in(web, "ops")
        first = await web.get("/console/orders")
        assert "超过 2 单" in text_of(first.text) and "第 1 页" in text_of(first.text)
        assert 'rel="next"' in first.text
        second = await web.get("/console/orders", params={"page": 2})
        assert 'rel="next"' in second.text  # still a full page: there may be more
        assert second.text.count("data-order=") == 2
        third = await web.get("/console/orders", params={"page": 3})
        assert 'rel="next"' not in third.text and "data-order=" not in third.text

        exported = await web.get("/console/orders/export.csv")
        assert exported.status_code == 200
        rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))[1:]
        assert sorted(r[0] for r in rows) == sorted(placed)
