"""Stock routes: adjustments through the ledger, safety hold, batches, listings, device scope."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select, update

from core.db import SessionFactory
from models.db import AuditEntry, LocationStock, Sku, Stock, StockMovement
from tests.api.conftest import Ref
from tests.support.api import Headers, MakeHeaders, audit_rows, problem_fields, row_count
from tests.support.invariants import assert_stock_invariants


@pytest_asyncio.fixture
async def admin(user_headers: MakeHeaders) -> Headers:
    return await user_headers("admin")


@pytest_asyncio.fixture
async def batch_sku(session_factory: SessionFactory, ref: Ref) -> int:
    """A batch-managed SKU of the reference product."""
    async with session_factory() as session:
        sku = Sku(
            spu_id=ref.product_id, code="P1-MILK", name="鲜奶 1L", barcode="6900000000024",
            weight_g=1050, volume_cm3=1100, list_price_fen=1290,
            batch_managed=True, shelf_life_days=21,
        )  # fmt: skip
        session.add(sku)
        await session.commit()
        return sku.id


def body(ref: Ref, sku_id: int, delta: int, **extra: Any) -> dict[str, Any]:
    return {
        "sku_id": sku_id,
        "warehouse_id": ref.warehouse_id,
        "location_id": ref.location_id,
        "quantity_delta": delta,
        "reason": "盘点差异",
        **extra,
    }


async def adjust(
    client: httpx.AsyncClient, headers: Headers, payload: dict[str, Any]
) -> httpx.Response:
    return await client.post("/v1/stock/adjustments", json=payload, headers=headers)


async def figures(
    session_factory: SessionFactory, sku_id: int, warehouse_id: int
) -> tuple[int, int, int]:
    """(on_hand, reserved, safety_hold) of one (SKU, warehouse); invariants checked on the way."""
    async with session_factory() as session:
        await assert_stock_invariants(session)
        stock = await session.get(Stock, (sku_id, warehouse_id))
        return (stock.on_hand, stock.reserved, stock.safety_hold) if stock else (0, 0, 0)


async def batch_quantity(session_factory: SessionFactory, sku_id: int, batch_no: str) -> int:
    async with session_factory() as session:
        quantity = await session.scalar(
            select(LocationStock.quantity).where(
                LocationStock.sku_id == sku_id, LocationStock.batch_no == batch_no
            )
        )
        return quantity or 0


async def test_positive_adjustment_of_a_batch_writes_the_ledger(
    client: httpx.AsyncClient,
    admin: Headers,
    ref: Ref,
    batch_sku: int,
    session_factory: SessionFactory,
) -> None:
    answer = await adjust(
        client,
        admin,
        body(ref, batch_sku, 12, batch_no="L2025-05", production_date="2025-05-01",
             expiry_date="2025-05-22"),
    )  # fmt: skip

    assert answer.status_code == 201, answer.text
    result = answer.json()
    assert result["stock"] == {
        "sku_id": batch_sku, "warehouse_id": ref.warehouse_id, "on_hand": 12, "reserved": 0,
        "in_transit": 0, "safety_hold": 0, "blocked": 0, "sellable": 12,
    }  # fmt: skip
    moved = result["movement"]
    assert moved["movement_type"] == "adjustment_in"
    assert moved["on_hand_delta"] == 12
    assert moved["reason"] == "盘点差异"
    assert moved["actor"].startswith("user:user")
    async with session_factory() as session:
        row = await session.get_one(StockMovement, moved["id"])
        assert (row.movement_type, row.on_hand_delta, row.reserved_delta) == (
            "adjustment_in",
            12,
            0,
        )
        assert (row.location_id, row.batch_no, row.reason) == (
            ref.location_id,
            "L2025-05",
            "盘点差异",
        )
        assert row.actor == moved["actor"]
        batch = await session.scalar(select(LocationStock).where(LocationStock.sku_id == batch_sku))
        assert batch is not None
        assert (batch.location_id, batch.quantity, str(batch.expiry_date)) == (
            ref.location_id,
            12,
            "2025-05-22",
        )
        audit = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "stock.adjustment_in")
        )
        assert audit is not None
        assert (audit.object_type, audit.object_id, audit.status_code) == (
            "stock_movement",
            str(row.id),
            201,
        )
    assert await figures(session_factory, batch_sku, ref.warehouse_id) == (12, 0, 0)


async def test_negative_adjustment_takes_units_off(
    client: httpx.AsyncClient,
    admin: Headers,
    ref: Ref,
    batch_sku: int,
    session_factory: SessionFactory,
) -> None:
    assert (await adjust(client, admin, body(ref, batch_sku, 10, batch_no="B1"))).status_code == 201
    answer = await adjust(client, admin, body(ref, batch_sku, -4, batch_no="B1"))

    assert answer.status_code == 201, answer.text
    assert answer.json()["movement"]["movement_type"] == "adjustment_out"
    assert answer.json()["movement"]["on_hand_delta"] == -4
    assert answer.json()["stock"]["on_hand"] == 6
    assert await figures(session_factory, batch_sku, ref.warehouse_id) == (6, 0, 0)
    assert await batch_quantity(session_factory, batch_sku, "B1") == 6
    assert await row_count(session_factory, StockMovement) == 2


async def test_negative_beyond_the_batch_is_a_conflict_and_writes_nothing(
    client: httpx.AsyncClient,
    admin: Headers,
    ref: Ref,
    batch_sku: int,
    session_factory: SessionFactory,
) -> None:
    await adjust(client, admin, body(ref, batch_sku, 5, batch_no="B1"))
    await adjust(client, admin, body(ref, batch_sku, 5, batch_no="B2"))

    answer = await adjust(client, admin, body(ref, batch_sku, -6, batch_no="B1"))

    assert answer.status_code == 409, answer.text
    assert answer.json()["status"] == 409
    assert "only 5" in answer.json()["detail"]
    assert answer.json()["errors"] == [
        {"field": "quantity_delta", "message": answer.json()["detail"]}
    ]
    assert await row_count(session_factory, StockMovement) == 2
    assert await figures(session_factory, batch_sku, ref.warehouse_id) == (10, 0, 0)
    assert await batch_quantity(session_factory, batch_sku, "B1") == 5


async def test_refused_adjustment_is_audited_with_its_status(
    client: httpx.AsyncClient,
    admin: Headers,
    ref: Ref,
    batch_sku: int,
    session_factory: SessionFactory,
) -> None:
    answer = await adjust(client, admin, body(ref, batch_sku, -1, batch_no="B1"))
    assert answer.status_code == 409

    rows = await audit_rows(session_factory, "/v1/stock/adjustments")
    assert [(r.status_code, r.action, r.actor_type) for r in rows] == [
        (409, "POST /v1/stock/adjustments", "user")
    ]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"location_id": "other"}, "location_id"),
        ({"location_id": 999999}, "location_id"),
        ({"sku_id": 999999}, "sku_id"),
        ({"warehouse_id": 999999}, "warehouse_id"),
        ({"quantity_delta": 0}, "quantity_delta"),
        ({"quantity_delta": 2.5}, "quantity_delta"),
        ({"quantity_delta": "3"}, "quantity_delta"),
        ({"reason": None}, "reason"),
        ({"reason": " "}, "reason"),
        ({"batch_no": ""}, "batch_no"),
        ({"batch_no": "bad batch!"}, "batch_no"),
        ({"expiry_date": "2025-01-01", "production_date": "2025-02-01"}, "expiry_date"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_invalid_adjustments_are_422_naming_the_field(
    client: httpx.AsyncClient,
    admin: Headers,
    ref: Ref,
    batch_sku: int,
    session_factory: SessionFactory,
    change: dict[str, Any],
    field: str,
) -> None:
    payload = body(ref, batch_sku, 3, batch_no="B1")
    for key, value in change.items():
        if value is None:
            del payload[key]
        else:
            payload[key] = ref.other_location_id if value == "other" else value

    answer = await adjust(client, admin, payload)

    assert answer.status_code == 422, answer.text
    assert field in problem_fields(answer), answer.json()
    assert await row_count(session_factory, StockMovement) == 0
    assert await figures(session_factory, batch_sku, ref.warehouse_id) == (0, 0, 0)


async def test_plain_sku_needs_no_batch(
    client: httpx.AsyncClient, admin: Headers, ref: Ref, session_factory: SessionFactory
) -> None:
    answer = await adjust(client, admin, body(ref, ref.sku_id, 7))
    assert answer.status_code == 201, answer.text
    assert answer.json()["movement"]["batch_no"] == ""
    assert await figures(session_factory, ref.sku_id, ref.warehouse_id) == (7, 0, 0)
    assert await batch_quantity(session_factory, ref.sku_id, "") == 7


async def test_same_client_ref_moves_stock_once(
    client: httpx.AsyncClient,
    admin: Headers,
    ref: Ref,
    batch_sku: int,
    session_factory: SessionFactory,
) -> None:
    payload = body(ref, batch_sku, 5, batch_no="B1", client_ref="count-2025-06-01-A")
    first = await adjust(client, admin, payload)
    again = await adjust(client, admin, payload)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["movement"]["id"] == first.json()["movement"]["id"]
    assert again.json()["stock"]["on_hand"] == 5
    assert first.json()["movement"]["ref_no"] == "count-2025-06-01-A"
    assert await row_count(session_factory, StockMovement) == 1
    assert await figures(session_factory, batch_sku, ref.warehouse_id) == (5, 0, 0)


async def test_client_ref_reused_for_another_adjustment_is_a_conflict(
    client: httpx.AsyncClient,
    admin: Headers,
    ref: Ref,
    batch_sku: int,
    session_factory: SessionFactory,
) -> None:
    first = await adjust(client, admin, body(ref, batch_sku, 5, batch_no="B1", client_ref="K1"))
    assert first.status_code == 201

    for other in (
        body(ref, batch_sku, 6, batch_no="B1", client_ref="K1"),
        body(ref, batch_sku, 5, batch_no="B2", client_ref="K1"),
        body(ref, ref.sku_id, 5, client_ref="K1"),
    ):
        answer = await adjust(client, admin, other)
        assert answer.status_code == 409, answer.text
        assert problem_fields(answer) == ["client_ref"]

    assert await row_count(session_factory, StockMovement) == 1
    assert await figures(session_factory, batch_sku, ref.warehouse_id) == (5, 0, 0)
    assert await figures(session_factory, ref.sku_id, ref.warehouse_id) == (0, 0, 0)


async def test_concurrent_retries_of_one_client_ref_move_stock_once(
    client: httpx.AsyncClient,
    admin: Headers,
    ref: Ref,
    batch_sku: int,
    session_factory: SessionFactory,
) -> None:
    payload = body(ref, batch_sku, 5, batch_no="B1", client_ref="scanner-42")
    answers = await asyncio.gather(*(adjust(client, admin, payload) for _ in range(4)))

    assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
    assert len({a.json()["movement"]["id"] for a in answers}) == 1
    assert await row_count(session_factory, StockMovement) == 1
    assert await figures(session_factory, batch_sku, ref.warehouse_id) == (5, 0, 0)


async def reserve(session_factory: SessionFactory, sku_id: int, warehouse_id: int, n: int) -> None:
    """Hold `n` units for an order the way the reservation path does: figure plus ledger row."""
    async with session_factory() as session:
        await session.execute(
            update(Stock)
            .where(Stock.sku_id == sku_id, Stock.warehouse_id == warehouse_id)
            .values(reserved=Stock.reserved + n)
        )
        session.add(
            StockMovement(
                movement_type="reservation", sku_id=sku_id, warehouse_id=warehouse_id,
                reserved_delta=n, ref_type="order", ref_no="SO-1", actor="system",
            )
        )  # fmt: skip
        await session.commit()


async def test_stock_cannot_drop_below_reserved(
    client: httpx.AsyncClient,
    admin: Headers,
    ref: Ref,
    batch_sku: int,
    session_factory: SessionFactory,
) -> None:
    await adjust(client, admin, body(ref, batch_sku, 10, batch_no="B1"))
    await reserve(session_factory, batch_sku, ref.warehouse_id, 8)

    refused = await adjust(client, admin, body(ref, batch_sku, -3, batch_no="B1"))
    assert refused.status_code == 409, refused.text
    assert "reserved" in refused.json()["detail"]
    assert problem_fields(refused) == ["quantity_delta"]
    assert await figures(session_factory, batch_sku, ref.warehouse_id) == (10, 8, 0)
    assert await batch_quantity(session_factory, batch_sku, "B1") == 10
    assert await row_count(session_factory, StockMovement) == 2

    allowed = await adjust(client, admin, body(ref, batch_sku, -2, batch_no="B1"))
    assert allowed.status_code == 201, allowed.text
    assert allowed.json()["stock"]["sellable"] == 0
    assert await figures(session_factory, batch_sku, ref.warehouse_id) == (8, 8, 0)


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


async def test_adjusting_needs_the_permission(
    client: httpx.AsyncClient,
    ref: Ref,
    user_headers: MakeHeaders,
    session_factory: SessionFactory,
) -> None:
    assert (await adjust(client, {}, body(ref, ref.sku_id, 1))).status_code == 401
    ops = await user_headers("ops")
    assert (await adjust(client, ops, body(ref, ref.sku_id, 1))).status_code == 403
    assert (await client.get("/v1/stock", headers=ops)).status_code == 200
    manager = await user_headers("warehouse_manager")
    assert (await adjust(client, manager, body(ref, ref.sku_id, 1))).status_code == 201
    assert await figures(session_factory, ref.sku_id, ref.warehouse_id) == (1, 0, 0)
    statuses = [r.status_code for r in await audit_rows(session_factory, "/v1/stock/adjustments")]
    assert statuses == [401, 403, 201]


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
