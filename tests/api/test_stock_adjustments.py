"""Stock adjustments: the ledger, batches, reservations, idempotent retries, permission."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from core.db import SessionFactory
from models.db import AuditEntry, LocationStock, StockMovement
from tests.api.conftest import Ref
from tests.api.stock_helpers import adjust, batch_quantity, body, figures, reserve
from tests.support.api import Headers, MakeHeaders, audit_rows, problem_fields, row_count


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
