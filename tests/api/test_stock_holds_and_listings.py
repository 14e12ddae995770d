"""Stock safety holds, batch disabling, listings and what a device may see."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from core.db import SessionFactory
from models.db import AuditEntry, LocationStock, StockMovement
from tests.api.conftest import Ref
from tests.api.stock_helpers import adjust, body, figures, reserve
from tests.support.api import Headers, MakeHeaders, row_count


async def test_safety_hold_changes_sellable_without_a_movement(
    client: httpx.AsyncClient,
    admin: Headers,
    ref: Ref,
    batch_sku: int,
    session_factory: SessionFactory,
) -> None:
    await adjust(client, admin, body(ref, batch_sku, 20, batch_no="B1"))
    await reserve(session_factory, batch_sku, ref.warehouse_id, 5)
    url = f"/v1/stock/{batch_sku}/{ref.warehouse_id}/safety-hold"

    answer = await client.put(url, json={"safety_hold": 4, "reason": "促销备货"}, headers=admin)

    assert answer.status_code == 200, answer.text
    assert (answer.json()["on_hand"], answer.json()["safety_hold"]) == (20, 4)
    assert answer.json()["sellable"] == 20 - 5 - 4
    # the adjustment and the reservation
    assert await row_count(session_factory, StockMovement) == 2
    assert await figures(session_factory, batch_sku, ref.warehouse_id) == (20, 5, 4)
    listed = await client.get("/v1/stock", params={"sku_id": batch_sku}, headers=admin)
    assert listed.json()["data"][0]["sellable"] == 11
    async with session_factory() as session:
        audit = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "stock.safety_hold")
        )
        assert audit is not None
        assert audit.object_id == f"{batch_sku}/{ref.warehouse_id}"

    # More hold than is free: sellable floors at 0; the figures are what was asked.
    answer = await client.put(url, json={"safety_hold": 30, "reason": "冻结"}, headers=admin)
    assert (answer.json()["safety_hold"], answer.json()["sellable"]) == (30, 0)

    for bad in ({"safety_hold": -1, "reason": "xx"}, {"safety_hold": 1.5, "reason": "xx"}, {}):
        assert (await client.put(url, json=bad, headers=admin)).status_code == 422
    missing = await client.put(
        f"/v1/stock/999999/{ref.warehouse_id}/safety-hold",
        json={"safety_hold": 1, "reason": "xx"},
        headers=admin,
    )
    assert missing.status_code == 404
    assert await figures(session_factory, batch_sku, ref.warehouse_id) == (20, 5, 30)


async def test_disabling_a_batch(
    client: httpx.AsyncClient,
    admin: Headers,
    ref: Ref,
    batch_sku: int,
    session_factory: SessionFactory,
    user_headers: MakeHeaders,
) -> None:
    await adjust(client, admin, body(ref, batch_sku, 6, batch_no="B1"))
    listed = await client.get("/v1/stock/batches", params={"sku_id": batch_sku}, headers=admin)
    [batch] = listed.json()["data"]
    assert batch["disabled"] is False

    answer = await client.patch(
        f"/v1/stock/batches/{batch['id']}",
        json={"disabled": True, "reason": "质检不合格"},
        headers=admin,
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["disabled"] is True
    async with session_factory() as session:
        row = await session.get_one(LocationStock, batch["id"])
        assert (row.disabled, row.quantity) == (True, 6)
        audit = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "stock.batch_disabled")
        )
        assert audit is not None
        assert audit.object_id == str(batch["id"])
    assert await row_count(session_factory, StockMovement) == 1
    assert await figures(session_factory, batch_sku, ref.warehouse_id) == (6, 0, 0)

    ops = await user_headers("ops")
    denied = await client.patch(
        f"/v1/stock/batches/{batch['id']}", json={"disabled": False, "reason": "xx"}, headers=ops
    )
    assert denied.status_code == 403
    missing = await client.patch(
        "/v1/stock/batches/999999", json={"disabled": True, "reason": "xx"}, headers=admin
    )
    assert missing.status_code == 404
    no_reason = await client.patch(
        f"/v1/stock/batches/{batch['id']}", json={"disabled": False}, headers=admin
    )
    assert no_reason.status_code == 422


async def test_listings_filter(
    client: httpx.AsyncClient,
    admin: Headers,
    ref: Ref,
    batch_sku: int,
    session_factory: SessionFactory,
) -> None:
    await adjust(client, admin, body(ref, batch_sku, 10, batch_no="B1", client_ref="R1"))
    await adjust(client, admin, body(ref, batch_sku, 4, batch_no="B2"))
    await adjust(client, admin, body(ref, batch_sku, -3, batch_no="B1"))
    await adjust(client, admin, body(ref, ref.sku_id, 2))
    other = body(ref, ref.sku_id, 9, warehouse_id=ref.other_warehouse_id)
    other["location_id"] = ref.other_location_id
    assert (await adjust(client, admin, other)).status_code == 201

    async def get(path: str, **params: Any) -> dict[str, Any]:
        answer = await client.get(path, params=params, headers=admin)
        assert answer.status_code == 200, answer.text
        return answer.json()

    everything = await get("/v1/stock")
    assert everything["count"] == 3
    assert {(s["sku_id"], s["warehouse_id"], s["on_hand"]) for s in everything["data"]} == {
        (batch_sku, ref.warehouse_id, 11),
        (ref.sku_id, ref.warehouse_id, 2),
        (ref.sku_id, ref.other_warehouse_id, 9),
    }
    assert (await get("/v1/stock", sku_id=ref.sku_id))["count"] == 2
    in_gz = await get("/v1/stock", warehouse_id=ref.other_warehouse_id)
    assert [s["on_hand"] for s in in_gz["data"]] == [9]
    page = await get("/v1/stock", limit=1, skip=1)
    assert (page["count"], len(page["data"])) == (3, 1)

    batches = await get("/v1/stock/batches", sku_id=batch_sku)
    assert sorted((b["batch_no"], b["quantity"]) for b in batches["data"]) == [("B1", 7), ("B2", 4)]
    at_gz = await get("/v1/stock/batches", location_id=ref.other_location_id)
    assert [(b["sku_id"], b["quantity"]) for b in at_gz["data"]] == [(ref.sku_id, 9)]

    outs = await get("/v1/stock/movements", movement_type="adjustment_out")
    assert [(m["sku_id"], m["on_hand_delta"]) for m in outs["data"]] == [(batch_sku, -3)]
    assert [
        m["on_hand_delta"] for m in (await get("/v1/stock/movements", ref_no="R1"))["data"]
    ] == [10]
    of_sku = await get("/v1/stock/movements", sku_id=batch_sku)
    assert [m["on_hand_delta"] for m in of_sku["data"]] == [-3, 4, 10]  # newest first
    assert (await get("/v1/stock/movements", warehouse_id=ref.other_warehouse_id))["count"] == 1
    bad = await client.get("/v1/stock/movements", params={"movement_type": "x"}, headers=admin)
    assert bad.status_code == 422
    assert await figures(session_factory, batch_sku, ref.warehouse_id) == (11, 0, 0)


async def test_device_sees_only_its_warehouse(
    client: httpx.AsyncClient,
    admin: Headers,
    ref: Ref,
    key_headers: MakeHeaders,
    session_factory: SessionFactory,
) -> None:
    await adjust(client, admin, body(ref, ref.sku_id, 3))
    other = body(ref, ref.sku_id, 9, warehouse_id=ref.other_warehouse_id)
    other["location_id"] = ref.other_location_id
    await adjust(client, admin, other)
    device = await key_headers("device", warehouse_id=ref.warehouse_id)

    for path in ("/v1/stock", "/v1/stock/batches", "/v1/stock/movements"):
        own = await client.get(path, headers=device)
        assert own.status_code == 200, own.text
        assert own.json()["count"] == 1
        assert {r["warehouse_id"] for r in own.json()["data"]} == {ref.warehouse_id}
        explicit = await client.get(path, params={"warehouse_id": ref.warehouse_id}, headers=device)
        assert explicit.json()["count"] == 1
        foreign = await client.get(
            path, params={"warehouse_id": ref.other_warehouse_id}, headers=device
        )
        assert foreign.status_code == 403, foreign.text
        at_foreign_location = await client.get(
            path, params={"location_id": ref.other_location_id}, headers=device
        )
        # Only the batch listing filters by location; none of them leaves the device's warehouse.
        assert at_foreign_location.json()["count"] == (0 if path == "/v1/stock/batches" else 1)
        assert {r["warehouse_id"] for r in at_foreign_location.json()["data"]} <= {ref.warehouse_id}

    storefront = await key_headers("storefront")
    assert (await client.get("/v1/stock", headers=storefront)).json()["count"] == 2

    denied = await adjust(client, device, body(ref, ref.sku_id, 1))
    assert denied.status_code == 403
    assert await figures(session_factory, ref.sku_id, ref.warehouse_id) == (3, 0, 0)


async def test_units_in_a_disabled_batch_are_not_sellable(
    client: httpx.AsyncClient, user_headers: MakeHeaders, ref: Ref
) -> None:
    headers = await user_headers("warehouse_manager")
    added = await client.post(
        "/v1/stock/adjustments",
        headers=headers,
        json={
            "sku_id": ref.sku_id,
            "warehouse_id": ref.warehouse_id,
            "location_id": ref.location_id,
            "quantity_delta": 8,
            "reason": "counted",
        },
    )
    assert added.status_code == 201, added.text
    batch = (
        await client.get("/v1/stock/batches", headers=headers, params={"sku_id": ref.sku_id})
    ).json()["data"][0]
    disabled = await client.patch(
        f"/v1/stock/batches/{batch['id']}",
        headers=headers,
        json={"disabled": True, "reason": "faulty"},
    )
    assert disabled.status_code == 200, disabled.text
    row = (await client.get("/v1/stock", headers=headers, params={"sku_id": ref.sku_id})).json()[
        "data"
    ][0]
    assert (row["on_hand"], row["blocked"], row["sellable"]) == (8, 8, 0)
