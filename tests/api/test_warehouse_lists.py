"""The lists the warehouse console reads (issue 14): packages by warehouse and status, a
warehouse's stock counts, stock sorted by its figures — each kept to the caller's warehouses."""

from __future__ import annotations

import httpx

from models.db import UserWarehouse
from tests.support.api import PASSWORD, add_user, bearer, login
from tests.support.order_api import only_in, paid_order, staff, warehouse_id
from tests.support.stack import Stack


async def test_packages_counts_and_stock_lists_keep_to_the_callers_warehouses(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    sh01, gz01 = await warehouse_id(stack, "SH01"), await warehouse_id(stack, "GZ01")
    sh_order = await paid_order(stack, api, [(await only_in(stack, "SH01"), 1)], key="l-sh")
    gz_order = await paid_order(stack, api, [(await only_in(stack, "GZ01"), 1)], key="l-gz")
    sh_package = sh_order["packages"][0]["package_no"]
    gz_package = gz_order["packages"][0]["package_no"]

    user = await add_user(stack.sessions, "sh01-lists", "warehouse_manager")
    async with stack.sessions() as session:
        session.add(UserWarehouse(user_id=user, warehouse_id=sh01))
        await session.commit()
    scoped = bearer((await login(api, "sh01-lists", PASSWORD)).json()["access_token"])
    ops = await staff(api, "ops")

    everything = (await api.get("/v1/packages", headers=ops)).json()
    assert {p["package_no"] for p in everything["data"]} == {sh_package, gz_package}
    assert everything["count"] == 2
    only_gz = (await api.get("/v1/packages", params={"warehouse_id": gz01}, headers=ops)).json()
    assert [(p["package_no"], p["warehouse_id"]) for p in only_gz["data"]] == [(gz_package, gz01)]
    held = await api.get("/v1/packages", params={"status": "weight_hold"}, headers=ops)
    assert held.json() == {"data": [], "count": 0}
    assert (
        await api.get("/v1/packages", params={"status": "lost"}, headers=ops)
    ).status_code == 422

    mine = (await api.get("/v1/packages", headers=scoped)).json()
    assert [p["package_no"] for p in mine["data"]] == [sh_package] and mine["count"] == 1
    outside = await api.get("/v1/packages", params={"warehouse_id": gz01}, headers=scoped)
    assert outside.status_code == 403

    locations = await api.get(f"/v1/warehouses/{sh01}/locations", headers=scoped)
    first = locations.json()["data"][0]["id"]
    opened = await api.post(
        f"/v1/warehouses/{sh01}/counts", json={"location_ids": [first]}, headers=scoped
    )
    assert opened.status_code == 201, opened.text
    counts = (await api.get(f"/v1/warehouses/{sh01}/counts", headers=scoped)).json()
    assert [(c["count_no"], c["status"]) for c in counts["data"]] == [
        (opened.json()["count_no"], "counting")
    ]
    approved = await api.get(
        f"/v1/warehouses/{sh01}/counts", params={"status": "approved"}, headers=scoped
    )
    assert approved.json() == {"data": [], "count": 0}
    assert (await api.get(f"/v1/warehouses/{gz01}/counts", headers=scoped)).status_code == 403
    assert (await api.get("/v1/warehouses/999999/counts", headers=ops)).status_code == 404

    by_on_hand = (
        await api.get("/v1/stock", params={"sort": "-on_hand", "limit": 500}, headers=scoped)
    ).json()
    figures = [s["on_hand"] for s in by_on_hand["data"]]
    assert figures == sorted(figures, reverse=True) and figures[0] > figures[-1]
    assert {s["warehouse_id"] for s in by_on_hand["data"]} == {sh01}
    bad = await api.get("/v1/stock", params={"sort": "sellable"}, headers=scoped)
    assert bad.status_code == 422
