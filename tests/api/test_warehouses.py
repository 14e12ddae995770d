"""Warehouse routes: warehouses, their region priorities and locations; devices see their own."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from core.db import SessionFactory
from models.db import AuditEntry, Location, Warehouse, WarehouseRegionPriority
from tests.api.conftest import Ref
from tests.support.api import assert_audited, my_name, problem_fields


def location_body(code: str = "B-02-03-4", **extra: Any) -> dict[str, Any]:
    return {
        "code": code,
        "barcode": f"SH01-{code}",
        "zone": "B",
        "aisle": 2,
        "bay": 3,
        "level": 4,
        "x_cm": 800,
        "y_cm": 450,
        **extra,
    }


# --- warehouses -------------------------------------------------------------------------------


async def test_warehouse_create_get_list_update_and_audit(
    client: httpx.AsyncClient, user_headers, ref: Ref, session_factory: SessionFactory
) -> None:
    headers = await user_headers("warehouse_manager")
    actor = await my_name(client, headers)
    made = await client.post(
        "/v1/warehouses",
        json={"code": "CD01", "name": "成都仓", "region_code": "510000", "address": "双流区"},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    warehouse_id = made.json()["id"]
    assert made.json() == {
        "id": warehouse_id,
        "code": "CD01",
        "name": "成都仓",
        "region_code": "510000",
        "timezone": "Asia/Shanghai",
        "address": "双流区",
        "active": True,
        "region_priorities": [],
    }
    got = await client.get(f"/v1/warehouses/{warehouse_id}", headers=headers)
    assert got.json() == made.json()

    listed = await client.get("/v1/warehouses", headers=headers)
    assert listed.json()["count"] == 3
    assert [w["code"] for w in listed.json()["data"]] == ["SH01", "GZ01", "CD01"]
    page = await client.get("/v1/warehouses?skip=2&limit=5", headers=headers)
    assert [w["id"] for w in page.json()["data"]] == [warehouse_id]

    changed = await client.patch(
        f"/v1/warehouses/{warehouse_id}",
        json={"name": "成都二仓", "timezone": "Asia/Urumqi", "active": False},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    again = (await client.get(f"/v1/warehouses/{warehouse_id}", headers=headers)).json()
    assert (again["name"], again["timezone"], again["active"]) == ("成都二仓", "Asia/Urumqi", False)
    assert again["code"] == "CD01"

    await assert_audited(session_factory, actor, "warehouse.create", "warehouse", warehouse_id)
    update = await assert_audited(
        session_factory, actor, "warehouse.update", "warehouse", warehouse_id
    )
    assert update.detail == {"name": "成都二仓", "timezone": "Asia/Urumqi", "active": False}


async def test_warehouse_rejects_bad_input_duplicates_and_unknown_ids(
    client: httpx.AsyncClient, user_headers, ref: Ref, session_factory: SessionFactory
) -> None:
    headers = await user_headers("admin")
    good = {"code": "CD01", "name": "成都仓", "region_code": "510000"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({**good, "region_code": "99999"}, "region_code"),
        ({**good, "region_code": "910000"}, "region_code"),
        ({**good, "timezone": "Mars/Olympus"}, "timezone"),
        ({**good, "code": ""}, "code"),
        ({**good, "manager": "张三"}, "manager"),
        ({"code": "CD01", "name": "成都仓"}, "region_code"),
    ]
    for body, field in cases:
        answer = await client.post("/v1/warehouses", json=body, headers=headers)
        assert answer.status_code == 422, (body, answer.text)
        assert problem_fields(answer) == [field], (body, answer.text)
    duplicate = await client.post("/v1/warehouses", json={**good, "code": "SH01"}, headers=headers)
    assert duplicate.status_code == 409, duplicate.text

    patch_cases: list[tuple[dict[str, Any], str]] = [
        ({"region_code": "99999"}, "region_code"),
        ({"timezone": "Asia/Beijing"}, "timezone"),
        ({"timezone": None}, "timezone"),
        ({"name": None}, "name"),
        ({"code": "XX01"}, "code"),
    ]
    for body, field in patch_cases:
        answer = await client.patch(
            f"/v1/warehouses/{ref.warehouse_id}", json=body, headers=headers
        )
        assert answer.status_code == 422, (body, answer.text)
        assert problem_fields(answer) == [field], (body, answer.text)

    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Warehouse)) == 2
        warehouse = await session.get(Warehouse, ref.warehouse_id)
        assert warehouse is not None
        assert (warehouse.code, warehouse.region_code, warehouse.timezone) == (
            "SH01",
            "310000",
            "Asia/Shanghai",
        )

    for answer in (
        await client.get("/v1/warehouses/999999", headers=headers),
        await client.patch("/v1/warehouses/999999", json={"name": "x"}, headers=headers),
        await client.put(
            "/v1/warehouses/999999/region-priorities", json={"priorities": []}, headers=headers
        ),
        await client.get("/v1/warehouses/999999/locations", headers=headers),
        await client.post("/v1/warehouses/999999/locations", json=location_body(), headers=headers),
    ):
        assert answer.status_code == 404, answer.text
        assert answer.json()["type"] == "/problems/not-found"


async def test_region_priorities_are_replaced_and_audited(
    client: httpx.AsyncClient, user_headers, ref: Ref, session_factory: SessionFactory
) -> None:
    headers = await user_headers("admin")
    actor = await my_name(client, headers)
    path = f"/v1/warehouses/{ref.warehouse_id}/region-priorities"
    first = await client.put(
        path,
        json={
            "priorities": [
                {"region_code": "320000", "priority": 2},
                {"region_code": "310000", "priority": 1},
                {"region_code": "330000", "priority": 2},
            ]
        },
        headers=headers,
    )
    assert first.status_code == 200, first.text
    assert first.json()["region_priorities"] == [
        {"region_code": "310000", "priority": 1},
        {"region_code": "320000", "priority": 2},
        {"region_code": "330000", "priority": 2},
    ]
    second = await client.put(
        path, json={"priorities": [{"region_code": "340000", "priority": 5}]}, headers=headers
    )
    assert second.status_code == 200, second.text
    got = (await client.get(f"/v1/warehouses/{ref.warehouse_id}", headers=headers)).json()
    assert got["region_priorities"] == [{"region_code": "340000", "priority": 5}]
    async with session_factory() as session:
        rows = (await session.scalars(select(WarehouseRegionPriority))).all()
    assert [(r.warehouse_id, r.region_code, r.priority) for r in rows] == [
        (ref.warehouse_id, "340000", 5)
    ]

    cases: list[tuple[dict[str, Any], str]] = [
        (
            {
                "priorities": [
                    {"region_code": "310000", "priority": 1},
                    {"region_code": "310000", "priority": 2},
                ]
            },
            "priorities",
        ),
        ({"priorities": [{"region_code": "99999", "priority": 1}]}, "priorities.0.region_code"),
        ({"priorities": [{"region_code": "310000", "priority": 0}]}, "priorities.0.priority"),
        ({"priorities": [{"region_code": "310000", "priority": 1.5}]}, "priorities.0.priority"),
        ({"regions": []}, "regions"),
    ]
    for body, field in cases:
        answer = await client.put(path, json=body, headers=headers)
        assert answer.status_code == 422, (body, answer.text)
        assert field in problem_fields(answer), (body, answer.text)
    unchanged = (await client.get(f"/v1/warehouses/{ref.warehouse_id}", headers=headers)).json()
    assert unchanged["region_priorities"] == [{"region_code": "340000", "priority": 5}]

    async with session_factory() as session:
        rows = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "warehouse.region_priorities")
            )
        ).all()
    assert [(r.object_id, r.detail, r.actor_name, r.client_ip) for r in rows] == [
        (str(ref.warehouse_id), {"regions": 3}, actor, "10.1.2.3"),
        (str(ref.warehouse_id), {"regions": 1}, actor, "10.1.2.3"),
    ]


# --- locations --------------------------------------------------------------------------------


async def test_location_create_get_list_update_and_audit(
    client: httpx.AsyncClient, user_headers, ref: Ref, session_factory: SessionFactory
) -> None:
    headers = await user_headers("warehouse_manager")
    actor = await my_name(client, headers)
    path = f"/v1/warehouses/{ref.warehouse_id}/locations"
    made = await client.post(path, json=location_body(kind="pack"), headers=headers)
    assert made.status_code == 201, made.text
    location_id = made.json()["id"]
    assert made.json() == {
        "id": location_id,
        "warehouse_id": ref.warehouse_id,
        "code": "B-02-03-4",
        "barcode": "SH01-B-02-03-4",
        "kind": "pack",
        "zone": "B",
        "aisle": 2,
        "bay": 3,
        "level": 4,
        "x_cm": 800,
        "y_cm": 450,
        "active": True,
    }
    got = await client.get(f"/v1/locations/{location_id}", headers=headers)
    assert got.json() == made.json()

    listed = (await client.get(path, headers=headers)).json()
    assert listed["count"] == 2
    assert [loc["code"] for loc in listed["data"]] == ["A-01-01-1", "B-02-03-4"]
    assert (await client.get(f"{path}?zone=B", headers=headers)).json()["count"] == 1
    packs = (await client.get(f"{path}?kind=pack", headers=headers)).json()
    assert [loc["id"] for loc in packs["data"]] == [location_id]
    paged = (await client.get(f"{path}?skip=1&limit=1", headers=headers)).json()
    assert [loc["id"] for loc in paged["data"]] == [location_id]
    other = await client.get(f"/v1/warehouses/{ref.other_warehouse_id}/locations", headers=headers)
    assert [loc["id"] for loc in other.json()["data"]] == [ref.other_location_id]

    changed = await client.patch(
        f"/v1/locations/{location_id}", json={"kind": "damage", "active": False}, headers=headers
    )
    assert changed.status_code == 200, changed.text
    again = (await client.get(f"/v1/locations/{location_id}", headers=headers)).json()
    assert (again["kind"], again["active"]) == ("damage", False)

    await assert_audited(session_factory, actor, "location.create", "location", location_id)
    update = await assert_audited(
        session_factory, actor, "location.update", "location", location_id
    )
    assert update.detail == {"kind": "damage", "active": False}


async def test_location_rejects_bad_input_duplicates_and_unknown_ids(
    client: httpx.AsyncClient, user_headers, ref: Ref, session_factory: SessionFactory
) -> None:
    headers = await user_headers("admin")
    path = f"/v1/warehouses/{ref.warehouse_id}/locations"
    cases: list[tuple[dict[str, Any], str]] = [
        (location_body(aisle=-1), "aisle"),
        (location_body(x_cm=1.5), "x_cm"),
        (location_body(zone="a"), "zone"),
        (location_body(kind="attic"), "kind"),
        (location_body(code="B 02", barcode="SH01-B02"), "code"),
        (location_body(warehouse_id=ref.other_warehouse_id), "warehouse_id"),
    ]
    for body, field in cases:
        answer = await client.post(path, json=body, headers=headers)
        assert answer.status_code == 422, (body, answer.text)
        assert problem_fields(answer) == [field], (body, answer.text)
    # The same code in the same warehouse, and the same barcode anywhere, are duplicates.
    same_code = location_body("A-01-01-1", barcode="SH01-NEW")
    assert (await client.post(path, json=same_code, headers=headers)).status_code == 409
    same_barcode = location_body("C-01", barcode="GZ01-A-01-01-1")
    assert (await client.post(path, json=same_barcode, headers=headers)).status_code == 409
    # The same code in another warehouse is fine.
    elsewhere = await client.post(
        f"/v1/warehouses/{ref.other_warehouse_id}/locations",
        json=location_body("B-02-03-4", barcode="GZ01-B-02-03-4"),
        headers=headers,
    )
    assert elsewhere.status_code == 201, elsewhere.text

    for body, field in [
        ({"kind": "attic"}, "kind"),
        ({"kind": None}, "kind"),
        ({"active": None}, "active"),
        ({"zone": "C"}, "zone"),
    ]:
        answer = await client.patch(f"/v1/locations/{ref.location_id}", json=body, headers=headers)
        assert answer.status_code == 422, (body, answer.text)
        assert problem_fields(answer) == [field], (body, answer.text)
    async with session_factory() as session:
        location = await session.get(Location, ref.location_id)
        assert location is not None
        assert (location.kind, location.active, location.zone) == ("storage", True, "A")
        assert await session.scalar(select(func.count()).select_from(Location)) == 3

    for answer in (
        await client.get("/v1/locations/999999", headers=headers),
        await client.patch("/v1/locations/999999", json={"active": False}, headers=headers),
    ):
        assert answer.status_code == 404
        assert answer.json()["type"] == "/problems/not-found"


# --- who may see and change what --------------------------------------------------------------


async def test_device_sees_only_its_own_warehouse(
    client: httpx.AsyncClient, key_headers, ref: Ref
) -> None:
    device = await key_headers("device", ref.warehouse_id)
    listed = (await client.get("/v1/warehouses", headers=device)).json()
    assert listed["count"] == 1
    assert [w["id"] for w in listed["data"]] == [ref.warehouse_id]

    own = await client.get(f"/v1/warehouses/{ref.warehouse_id}", headers=device)
    assert own.status_code == 200
    own_locations = await client.get(f"/v1/warehouses/{ref.warehouse_id}/locations", headers=device)
    assert [loc["id"] for loc in own_locations.json()["data"]] == [ref.location_id]
    assert (await client.get(f"/v1/locations/{ref.location_id}", headers=device)).status_code == 200

    for path in (
        f"/v1/warehouses/{ref.other_warehouse_id}",
        f"/v1/warehouses/{ref.other_warehouse_id}/locations",
        f"/v1/locations/{ref.other_location_id}",
    ):
        answer = await client.get(path, headers=device)
        assert answer.status_code == 403, (path, answer.text)
        assert answer.json()["type"] == "/problems/forbidden"
        assert "GZ01" not in answer.text

    # Devices read; they do not change warehouses.
    denied = await client.post(
        f"/v1/warehouses/{ref.warehouse_id}/locations", json=location_body(), headers=device
    )
    assert denied.status_code == 403


async def test_warehouse_writes_need_warehouse_write(
    client: httpx.AsyncClient, user_headers, key_headers, ref: Ref, session_factory
) -> None:
    writes = [
        ("POST", "/v1/warehouses", {"code": "CD01", "name": "成都仓", "region_code": "510000"}),
        ("PATCH", f"/v1/warehouses/{ref.warehouse_id}", {"name": "x"}),
        ("PUT", f"/v1/warehouses/{ref.warehouse_id}/region-priorities", {"priorities": []}),
        ("POST", f"/v1/warehouses/{ref.warehouse_id}/locations", location_body()),
        ("PATCH", f"/v1/locations/{ref.location_id}", {"active": False}),
    ]
    for headers in (await user_headers("cs"), await user_headers("ops", "purchasing")):
        for method, path, body in writes:
            answer = await client.request(method, path, json=body, headers=headers)
            assert answer.status_code == 403, (method, path, answer.text)
        # Staff without the write permission still read.
        assert (await client.get("/v1/warehouses", headers=headers)).json()["count"] == 2
    storefront = await key_headers("storefront")
    assert (await client.get("/v1/warehouses", headers=storefront)).status_code == 403
    async with session_factory() as session:
        warehouse = await session.get(Warehouse, ref.warehouse_id)
        assert warehouse is not None
        assert warehouse.name == "上海仓"
        assert await session.scalar(select(func.count()).select_from(Location)) == 2
