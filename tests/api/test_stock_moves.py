"""Location moves (移库): units go from one location to another of the same warehouse through
the ledger; on_hand never changes, refusals change nothing, a retried move id moves once."""

from __future__ import annotations

from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import func, select

from core.db import SessionFactory
from models.db import AuditEntry, Location, StockMovement
from tests.api.conftest import Ref
from tests.api.stock_helpers import adjust, body, figures
from tests.support.api import Headers, problem_fields


@pytest_asyncio.fixture
async def shelves(session_factory: SessionFactory, ref: Ref) -> tuple[int, int]:
    """A second storage location of the reference warehouse, and a disabled one."""
    async with session_factory() as session:
        made = [
            Location(
                warehouse_id=ref.warehouse_id, code=code, barcode=f"SH01-{code}", zone="B",
                aisle=2, bay=bay, level=1, x_cm=600, y_cm=120 * bay, active=active,
            )
            for code, bay, active in (("B-02-01-1", 1, True), ("B-02-02-1", 2, False))
        ]  # fmt: skip
        session.add_all(made)
        await session.commit()
        return made[0].id, made[1].id


def move(ref: Ref, sku_id: int, to: int, quantity: int, **extra: Any) -> dict[str, Any]:
    return {
        "move_id": "MV-test-1",
        "sku_id": sku_id,
        "warehouse_id": ref.warehouse_id,
        "from_location_id": ref.location_id,
        "to_location_id": to,
        "quantity": quantity,
        **extra,
    }


async def _stock_in(client: httpx.AsyncClient, admin: Headers, ref: Ref, sku_id: int) -> None:
    extra = {"batch_no": "L1", "expiry_date": "2027-01-31"}
    answer = await adjust(client, admin, body(ref, sku_id, 10, **extra))
    assert answer.status_code == 201, answer.text


async def _by_location(
    client: httpx.AsyncClient, admin: Headers, ref: Ref, sku_id: int
) -> dict[int, tuple[int, str, str | None]]:
    answer = await client.get(
        "/v1/stock/batches",
        params={"sku_id": sku_id, "warehouse_id": ref.warehouse_id},
        headers=admin,
    )
    assert answer.status_code == 200, answer.text
    return {
        b["location_id"]: (b["quantity"], b["batch_no"], b["expiry_date"])
        for b in answer.json()["data"]
    }


async def test_a_move_shows_at_once_in_stock_by_location_and_the_ledger(
    client: httpx.AsyncClient,
    admin: Headers,
    ref: Ref,
    batch_sku: int,
    shelves: tuple[int, int],
    session_factory: SessionFactory,
) -> None:
    await _stock_in(client, admin, ref, batch_sku)
    shelf, _ = shelves

    answer = await client.post(
        "/v1/stock/moves", json=move(ref, batch_sku, shelf, 4, batch_no="L1"), headers=admin
    )

    assert answer.status_code == 201, answer.text
    result = answer.json()
    assert result["replayed"] is False
    assert (result["out"]["movement_type"], result["out"]["on_hand_delta"]) == ("move_out", -4)
    assert (result["into"]["movement_type"], result["into"]["on_hand_delta"]) == ("move_in", 4)
    # Batch and expiry travel with the units; the warehouse figure is untouched.
    assert await _by_location(client, admin, ref, batch_sku) == {
        ref.location_id: (6, "L1", "2027-01-31"),
        shelf: (4, "L1", "2027-01-31"),
    }
    assert await figures(session_factory, batch_sku, ref.warehouse_id) == (10, 0, 0)
    ledger = await client.get("/v1/stock/movements", params={"ref_no": "MV-test-1"}, headers=admin)
    rows = ledger.json()["data"]
    assert sorted((r["movement_type"], r["location_id"], r["on_hand_delta"]) for r in rows) == [
        ("move_in", shelf, 4),
        ("move_out", ref.location_id, -4),
    ]
    assert {r["ref_type"] for r in rows} == {"location_move"}
    async with session_factory() as session:
        audit = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "stock.location_move")
        )
        assert audit is not None
        assert (audit.object_id, audit.status_code, audit.detail["quantity"]) == (
            "MV-test-1",
            201,
            4,
        )


async def test_moving_more_than_the_unreserved_units_is_refused_and_changes_nothing(
    client: httpx.AsyncClient,
    admin: Headers,
    ref: Ref,
    batch_sku: int,
    shelves: tuple[int, int],
    session_factory: SessionFactory,
) -> None:
    await _stock_in(client, admin, ref, batch_sku)
    shelf, disabled = shelves

    too_many = await client.post(
        "/v1/stock/moves", json=move(ref, batch_sku, shelf, 11, batch_no="L1"), headers=admin
    )
    to_disabled = await client.post(
        "/v1/stock/moves", json=move(ref, batch_sku, disabled, 1, batch_no="L1"), headers=admin
    )
    other_warehouse = await client.post(
        "/v1/stock/moves",
        json=move(ref, batch_sku, ref.other_location_id, 1, batch_no="L1"),
        headers=admin,
    )

    assert too_many.status_code == 409, too_many.text
    assert "only 10 unreserved units" in too_many.json()["detail"]
    assert problem_fields(too_many) == ["quantity"]
    assert to_disabled.status_code == 409, to_disabled.text
    assert problem_fields(to_disabled) == ["to_location_id"]
    assert other_warehouse.status_code == 422, other_warehouse.text
    assert problem_fields(other_warehouse) == ["to_location_id"]
    assert await _by_location(client, admin, ref, batch_sku) == {
        ref.location_id: (10, "L1", "2027-01-31")
    }
    async with session_factory() as session:
        moves = await session.scalar(
            select(func.count())
            .select_from(StockMovement)
            .where(StockMovement.ref_type == "location_move")
        )
        assert moves == 0
    assert await figures(session_factory, batch_sku, ref.warehouse_id) == (10, 0, 0)


async def test_a_retried_move_id_moves_once_and_cannot_be_reused(
    client: httpx.AsyncClient,
    admin: Headers,
    ref: Ref,
    batch_sku: int,
    shelves: tuple[int, int],
    session_factory: SessionFactory,
) -> None:
    await _stock_in(client, admin, ref, batch_sku)
    shelf, _ = shelves
    payload = move(ref, batch_sku, shelf, 3, batch_no="L1")

    first = await client.post("/v1/stock/moves", json=payload, headers=admin)
    again = await client.post("/v1/stock/moves", json=payload, headers=admin)
    other = await client.post("/v1/stock/moves", json={**payload, "quantity": 5}, headers=admin)

    assert first.status_code == 201, first.text
    assert again.status_code == 201, again.text
    assert again.json()["replayed"] is True
    assert again.json()["out"]["id"] == first.json()["out"]["id"]
    assert other.status_code == 409, other.text
    assert problem_fields(other) == ["move_id"]
    assert await _by_location(client, admin, ref, batch_sku) == {
        ref.location_id: (7, "L1", "2027-01-31"),
        shelf: (3, "L1", "2027-01-31"),
    }
    assert await figures(session_factory, batch_sku, ref.warehouse_id) == (10, 0, 0)


async def test_a_clerk_without_the_permission_cannot_move(
    client: httpx.AsyncClient,
    admin: Headers,
    user_headers: Any,
    ref: Ref,
    batch_sku: int,
    shelves: tuple[int, int],
) -> None:
    await _stock_in(client, admin, ref, batch_sku)
    cs = await user_headers("cs")
    answer = await client.post(
        "/v1/stock/moves", json=move(ref, batch_sku, shelves[0], 1, batch_no="L1"), headers=cs
    )
    assert answer.status_code == 403, answer.text
    assert await _by_location(client, admin, ref, batch_sku) == {
        ref.location_id: (10, "L1", "2027-01-31")
    }


async def test_a_handheld_moves_in_its_own_warehouse_only(
    client: httpx.AsyncClient,
    admin: Headers,
    key_headers: Any,
    ref: Ref,
    batch_sku: int,
    shelves: tuple[int, int],
    session_factory: SessionFactory,
) -> None:
    await _stock_in(client, admin, ref, batch_sku)
    ours = await key_headers("device", ref.warehouse_id)
    theirs = await key_headers("device", ref.other_warehouse_id)
    payload = move(ref, batch_sku, shelves[0], 2, batch_no="L1")

    outside = await client.post("/v1/stock/moves", json=payload, headers=theirs)
    inside = await client.post("/v1/stock/moves", json=payload, headers=ours)

    assert outside.status_code == 403, outside.text
    assert inside.status_code == 201, inside.text
    assert inside.json()["out"]["actor"].startswith("api_key:device")
    assert await _by_location(client, admin, ref, batch_sku) == {
        ref.location_id: (8, "L1", "2027-01-31"),
        shelves[0]: (2, "L1", "2027-01-31"),
    }
    assert await figures(session_factory, batch_sku, ref.warehouse_id) == (10, 0, 0)
