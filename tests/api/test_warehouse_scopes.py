"""Staff data scopes (DESIGN §9): a warehouse manager limited to SH01 sees SH01's data only in
every warehouse list and is refused acting on GZ01's objects; an unlimited one sees both. The
same mechanism that keeps a device in its own warehouse."""

from __future__ import annotations

from typing import Any

import httpx
import pytest_asyncio

from core.db import SessionFactory
from models.db import Location, Stock
from tests.api.conftest import Ref
from tests.support.api import PASSWORD, Headers, bearer, login
from tests.support.order_api import only_in, paid_order, staff, warehouse_id
from tests.support.picking import plan_now
from tests.support.stack import Stack

Json = dict[str, Any]


@pytest_asyncio.fixture
async def sh01_manager(client: httpx.AsyncClient, admin: Headers, ref: Ref) -> Headers:
    created = await client.post(
        "/v1/admin/users",
        json={
            "username": "sh01-manager",
            "display_name": "上海仓主管",
            "password": PASSWORD,
            "roles": ["warehouse_manager", "purchasing"],
            "warehouse_ids": [ref.warehouse_id],
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    assert created.json()["warehouse_ids"] == [ref.warehouse_id]
    answer = await login(client, "sh01-manager", PASSWORD)
    return bearer(answer.json()["access_token"])


async def _stock_in_both(client: httpx.AsyncClient, admin: Headers, ref: Ref) -> None:
    for warehouse, location in (
        (ref.warehouse_id, ref.location_id),
        (ref.other_warehouse_id, ref.other_location_id),
    ):
        answer = await client.post(
            "/v1/stock/adjustments",
            json={
                "sku_id": ref.sku_id,
                "warehouse_id": warehouse,
                "location_id": location,
                "quantity_delta": 5,
                "reason": "期初库存",
            },
            headers=admin,
        )
        assert answer.status_code == 201, answer.text


def _warehouses_of(page: Json) -> set[int]:
    return {row.get("warehouse_id", row.get("id")) for row in page["data"]}


async def test_lists_show_only_the_scoped_warehouses(
    client: httpx.AsyncClient, admin: Headers, ref: Ref, sh01_manager: Headers
) -> None:
    await _stock_in_both(client, admin, ref)
    both = {ref.warehouse_id, ref.other_warehouse_id}
    for path in ("/v1/warehouses", "/v1/stock", "/v1/stock/batches", "/v1/stock/movements"):
        everything = await client.get(path, headers=admin)
        assert _warehouses_of(everything.json()) == both, path
        scoped = await client.get(path, headers=sh01_manager)
        assert scoped.status_code == 200, (path, scoped.text)
        assert _warehouses_of(scoped.json()) == {ref.warehouse_id}, path
        assert scoped.json()["count"] < everything.json()["count"], path
        asked = await client.get(
            path, params={"warehouse_id": ref.other_warehouse_id}, headers=sh01_manager
        )
        if path != "/v1/warehouses":  # a filter outside the scope is refused, not emptied
            assert asked.status_code == 403, (path, asked.text)

    rule = {"warehouse_id": ref.other_warehouse_id, "sku_id": ref.sku_id}
    await client.put(
        "/v1/reorder-rules", json={**rule, "reorder_point": 50, "reorder_level": 80}, headers=admin
    )
    assert len((await client.get("/v1/reorder-rules", headers=admin)).json()) == 1
    assert (await client.get("/v1/reorder-rules", headers=sh01_manager)).json() == []
    assert len((await client.get("/v1/stock/low", headers=admin)).json()) == 1
    assert (await client.get("/v1/stock/low", headers=sh01_manager)).json() == []


async def test_waves_and_outbound_of_another_warehouse_are_out_of_reach(
    client: httpx.AsyncClient,
    admin: Headers,
    ref: Ref,
    sh01_manager: Headers,
    session_factory: SessionFactory,
) -> None:
    gz = ref.other_warehouse_id
    assert (await client.get(f"/v1/warehouses/{gz}", headers=sh01_manager)).status_code == 403
    assert (
        await client.get(f"/v1/warehouses/{gz}/outbound", headers=sh01_manager)
    ).status_code == 403
    assert (
        await client.get(f"/v1/warehouses/{ref.warehouse_id}/outbound", headers=sh01_manager)
    ).status_code == 200
    shown = await client.get("/v1/waves", params={"warehouse_id": gz}, headers=sh01_manager)
    assert shown.status_code == 403
    assert (await client.get("/v1/waves", headers=sh01_manager)).status_code == 200


async def test_commands_on_another_warehouse_are_refused(
    client: httpx.AsyncClient,
    admin: Headers,
    ref: Ref,
    sh01_manager: Headers,
    session_factory: SessionFactory,
) -> None:
    await _stock_in_both(client, admin, ref)
    gz = ref.other_warehouse_id
    moved = await client.post(
        "/v1/stock/adjustments",
        json={
            "sku_id": ref.sku_id,
            "warehouse_id": gz,
            "location_id": ref.other_location_id,
            "quantity_delta": -5,
            "reason": "盘亏",
        },
        headers=sh01_manager,
    )
    assert moved.status_code == 403, moved.text
    assert "outside your data scope" in moved.json()["detail"]
    refused = [
        await client.put(
            f"/v1/stock/{ref.sku_id}/{gz}/safety-hold",
            json={"safety_hold": 1, "reason": "留样"},
            headers=sh01_manager,
        ),
        await client.patch(f"/v1/warehouses/{gz}", json={"name": "改名"}, headers=sh01_manager),
        await client.patch(
            f"/v1/locations/{ref.other_location_id}", json={"active": False}, headers=sh01_manager
        ),
        await client.post(
            f"/v1/warehouses/{gz}/counts",
            json={"location_ids": [ref.other_location_id]},
            headers=sh01_manager,
        ),
        await client.post(f"/v1/warehouses/{gz}/waves/plan", headers=sh01_manager),
        await client.post(f"/v1/warehouses/{gz}/replenish", headers=sh01_manager),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused), [r.text for r in refused]
    async with session_factory() as session:
        gz_stock = await session.get(Stock, (ref.sku_id, gz))
        location = await session.get(Location, ref.other_location_id)
    assert (gz_stock.on_hand, gz_stock.safety_hold) == (5, 0)
    assert location is not None and location.active

    # In its own warehouse the same manager may act.
    own = await client.post(
        "/v1/stock/adjustments",
        json={
            "sku_id": ref.sku_id,
            "warehouse_id": ref.warehouse_id,
            "location_id": ref.location_id,
            "quantity_delta": -1,
            "reason": "盘亏",
        },
        headers=sh01_manager,
    )
    assert own.status_code == 201, own.text


async def test_lifting_the_scope_opens_every_warehouse(
    client: httpx.AsyncClient, admin: Headers, ref: Ref, sh01_manager: Headers
) -> None:
    users = (await client.get("/v1/admin/users", headers=admin)).json()["data"]
    [manager] = [u for u in users if u["username"] == "sh01-manager"]
    unknown = await client.patch(
        f"/v1/admin/users/{manager['id']}", json={"warehouse_ids": [999999]}, headers=admin
    )
    assert unknown.status_code == 422
    lifted = await client.patch(
        f"/v1/admin/users/{manager['id']}", json={"warehouse_ids": []}, headers=admin
    )
    assert lifted.json()["warehouse_ids"] == []
    listed = await client.get("/v1/warehouses", headers=sh01_manager)
    assert _warehouses_of(listed.json()) == {ref.warehouse_id, ref.other_warehouse_id}


async def test_a_gz01_package_and_wave_are_out_of_an_sh01_managers_reach(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    sh, gz = await warehouse_id(stack, "SH01"), await warehouse_id(stack, "GZ01")
    created = await api.post(
        "/v1/admin/users",
        json={
            "username": "sh01-floor",
            "display_name": "上海仓主管",
            "password": PASSWORD,
            "roles": ["warehouse_manager"],
            "warehouse_ids": [sh],
        },
        headers=await staff(api, "admin"),
    )
    assert created.status_code == 201, created.text
    mine = bearer((await login(api, "sh01-floor", PASSWORD)).json()["access_token"])
    order = await paid_order(stack, api, [(await only_in(stack, "GZ01"), 1)], key="gz-scope")
    [parcel] = order["packages"]
    assert parcel["warehouse_id"] == gz
    [wave] = await plan_now(api, gz)  # GZ01's own (unscoped) manager plans it

    number = parcel["package_no"]
    refused = [
        await api.get(f"/v1/packages/{number}", headers=mine),
        await api.get(f"/v1/packages/{number}/packing-slip.pdf", headers=mine),
        await api.post(
            f"/v1/packages/{number}/override-weight", json={"reason": "称重误差"}, headers=mine
        ),
        await api.get(f"/v1/waves/{wave['wave_no']}", headers=mine),
        await api.get(f"/v1/warehouses/{gz}/outbound", headers=mine),
        await api.post(f"/v1/warehouses/{gz}/waves/plan", headers=mine),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused), [r.text for r in refused]
    # Refused for the warehouse, not for want of a permission: the role grants all of these.
    assert not [r.text for r in refused if "is required" in r.json()["detail"]]
    listed = await api.get("/v1/waves", headers=mine)
    assert wave["wave_no"] not in {w["wave_no"] for w in listed.json()["data"]}
    everyone = await api.get("/v1/waves", headers=await staff(api, "warehouse_manager"))
    assert wave["wave_no"] in {w["wave_no"] for w in everyone.json()["data"]}


async def test_a_scoped_user_neither_creates_warehouses_nor_buys_for_others(
    client: httpx.AsyncClient, ref: Ref, sh01_manager: Headers
) -> None:
    made = await client.post(
        "/v1/warehouses",
        json={"code": "BJ01", "name": "北京仓", "region_code": "110000"},
        headers=sh01_manager,
    )
    assert made.status_code == 403, made.text
    line = {"sku_id": ref.sku_id, "quantity": 10, "unit_price_fen": 100}
    po = await client.post(
        "/v1/purchase-orders",
        json={
            "supplier_id": 1,
            "lines": [
                {**line, "warehouse_id": ref.warehouse_id},
                {**line, "warehouse_id": ref.other_warehouse_id},
            ],
        },
        headers=sh01_manager,
    )
    assert po.status_code == 403, po.text
    assert f"warehouse {ref.other_warehouse_id} is outside" in po.json()["detail"]
