"""The reads a storefront, a handheld and a warehouse's "plan now" make most often cost few round
trips to PostgreSQL (issue 18): an order's view, a package's, and a plan that finds nothing
waiting. Every statement, BEGIN and COMMIT the API sends is counted (SQLAlchemy's cursor
executes, and asyncpg's own queries: transaction control and statements run `Alone`), so a
route that grows back its reads fails here; each answer is checked whole as well."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import SessionFactory
from core.security import API_KEY_PREFIX, api_key_prefix
from models.db import (
    ApiKey,
    AuditEntry,
    Order,
    OrderEvent,
    OrderLine,
    OrderRefund,
    Package,
    PackageLine,
)
from tests.api.conftest import Ref
from tests.support.api import MakeHeaders

PLACED = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


@asynccontextmanager
async def round_trips(engine: AsyncEngine) -> AsyncIterator[list[str]]:
    """The statements sent to PostgreSQL on the engine's connections while inside."""
    sent: list[str] = []
    touched: set[Any] = set()

    def logged(record: Any) -> None:
        sent.append(record.query)

    def on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        driver = dbapi_connection.driver_connection
        driver.add_query_logger(logged)  # BEGIN, COMMIT and statements run `Alone`
        touched.add(driver)

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)  # SQLAlchemy's (prepared: asyncpg does not log them)

    pool = engine.sync_engine.pool
    event.listen(pool, "checkout", on_checkout)
    event.listen(engine.sync_engine, "before_cursor_execute", on_execute)
    try:
        yield sent
        await asyncio.sleep(0.05)  # asyncpg calls its loggers soon after, not at once
    finally:
        event.remove(pool, "checkout", on_checkout)
        event.remove(engine.sync_engine, "before_cursor_execute", on_execute)
        for driver in touched:
            driver.remove_query_logger(logged)


async def _key_id(sessions: SessionFactory, headers: dict[str, str]) -> int:
    async with sessions() as session:
        found = await session.scalar(
            select(ApiKey.id).where(ApiKey.prefix == api_key_prefix(headers["X-API-Key"]))
        )
    assert found is not None
    return found


async def _an_order(sessions: SessionFactory, shop: int, ref: Ref) -> None:
    async with sessions() as session:
        session.add(
            Order(order_no="SO7001", api_key_id=shop, customer_id=42, status="fulfilling",
                  region_code="310000",
                  address={"name": "王小明", "phone": "13800138000", "region_code": "310000",
                           "detail": "浦东新区世纪大道100号"},
                  goods_list_fen=19800, discount_fen=800, freight_fen=0, payable_fen=19000,
                  paid_fen=19000, refunded_fen=0, pricing={"points_used": 300},
                  payment_deadline=PLACED, placed_at=PLACED)
        )  # fmt: skip
        await session.flush()
        session.add_all([
            OrderLine(order_no="SO7001", line_no=1, sku_id=ref.sku_id, quantity=2,
                      unit_price_fen=9900, list_amount_fen=19800, discount_fen=800,
                      paid_fen=19000, allocations=[{"source": "coupon", "source_id": 5,
                                                    "amount_fen": 800}]),
            Package(package_no="PK7001-2", order_no="SO7001", warehouse_id=ref.other_warehouse_id,
                    status="released", carrier_code="SF", expected_weight_g=520,
                    tracking_events=[]),
            Package(package_no="PK7001-1", order_no="SO7001", warehouse_id=ref.warehouse_id,
                    status="shipped", carrier_code="SF", expected_weight_g=1040,
                    measured_weight_g=1050, waybill_no="WB1", tracking_no="SF1",
                    tracking_events=[{"code": "picked_up", "description": "揽收",
                                      "location": "上海", "occurred_at": "2026-12-07T10:00:00Z"}]),
            OrderRefund(refund_no="RF7001-b", order_no="SO7001", amount_fen=300,
                        status="refused", reason="差价", refused_reason="closed"),
            OrderRefund(refund_no="RF7001-a", order_no="SO7001", amount_fen=200,
                        status="pending", reason="运费"),
            OrderRefund(refund_no="RF7001-c", order_no="SO7001", amount_fen=999,
                        status="done", reason="made"),
        ])  # fmt: skip
        await session.flush()
        session.add_all([
            PackageLine(package_no="PK7001-1", line_no=1, sku_id=ref.sku_id, quantity=2),
            OrderEvent(order_no="SO7001", step="paid", seq=2, at=PLACED, actor_kind="system",
                       actor_name="houtai", actor_role="", detail={"fen": 19000},
                       idempotency_key="so7001-paid"),
            OrderEvent(order_no="SO7001", step="placed", seq=1, at=PLACED, actor_kind="storefront",
                       actor_name="shop", actor_role="storefront", detail={},
                       idempotency_key="so7001-placed"),
            OrderEvent(order_no="SO7001", package_no="PK7001-1", step="shipped", seq=3,
                       at=datetime(2026, 12, 7, 10, 0, 0, 120, tzinfo=UTC), actor_kind="device",
                       actor_name="pda-1", actor_role="device", detail={"b": [1, 2.5], "a": None},
                       idempotency_key="so7001-shipped"),
        ])  # fmt: skip
        await session.commit()


EXPECTED_ORDER = {
    "order_no": "SO7001", "status": "fulfilling", "customer_id": 42,
    "goods_list_fen": 19800, "discount_fen": 800, "freight_fen": 0, "payable_fen": 19000,
    "points_used": 300, "paid_fen": 19000, "refunded_fen": 0,
    "payment_deadline": "2026-12-07T09:00:00Z", "under_review": False, "escalated": False,
    "lines": [{"line_no": 1, "sku_id": "SKU", "quantity": 2, "unit_price_fen": 9900,
               "list_amount_fen": 19800, "discount_fen": 800, "paid_fen": 19000, "is_gift": False,
               "allocations": [{"source": "coupon", "source_id": 5, "amount_fen": 800}]}],
    "packages": [
        {"package_no": "PK7001-1", "warehouse_id": "WH1", "status": "shipped", "waybill_no": "WB1",
         "tracking_no": "SF1", "lines": [{"line_no": 1, "sku_id": "SKU", "quantity": 2}]},
        {"package_no": "PK7001-2", "warehouse_id": "WH2", "status": "released", "waybill_no": None,
         "tracking_no": None, "lines": []},
    ],
    "timeline": [
        {"at": "2026-12-07T09:00:00Z", "step": "placed", "actor_kind": "storefront",
         "actor_name": "shop", "actor_role": "storefront", "package_no": None, "detail": {}},
        {"at": "2026-12-07T09:00:00Z", "step": "paid", "actor_kind": "system",
         "actor_name": "houtai", "actor_role": "", "package_no": None, "detail": {"fen": 19000}},
        {"at": "2026-12-07T10:00:00.000120Z", "step": "shipped", "actor_kind": "device",
         "actor_name": "pda-1", "actor_role": "device", "package_no": "PK7001-1",
         "detail": {"a": None, "b": [1, 2.5]}},
    ],
    "refund_pending_fen": 500,
    "pending_refunds": [
        {"refund_no": "RF7001-a", "amount_fen": 200, "status": "pending", "reason": "运费",
         "refused_reason": None},
        {"refund_no": "RF7001-b", "amount_fen": 300, "status": "refused", "reason": "差价",
         "refused_reason": "closed"},
    ],
}  # fmt: skip


def _expected(ref: Ref, contact: dict[str, Any]) -> dict[str, Any]:
    fill = {"SKU": ref.sku_id, "WH1": ref.warehouse_id, "WH2": ref.other_warehouse_id}

    def filled(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: filled(v) for k, v in value.items()}
        if isinstance(value, list):
            return [filled(v) for v in value]
        return fill.get(value, value) if isinstance(value, str) else value

    return {**filled(EXPECTED_ORDER), "contact": contact}


async def test_an_order_is_read_in_two_round_trips_the_key_and_one_statement(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    session_factory: SessionFactory,
    key_headers: MakeHeaders,
    user_headers: MakeHeaders,
    ref: Ref,
) -> None:
    shop = await key_headers("storefront")
    other = await key_headers("storefront")
    await _an_order(session_factory, await _key_id(session_factory, shop), ref)
    ops = await user_headers("ops")

    async with round_trips(engine) as sent:
        mine = await client.get("/v1/orders/SO7001", headers=shop)
    assert mine.status_code == 200, mine.text
    whole = {"name": "王小明", "phone": "13800138000", "region_code": "310000",
             "detail": "浦东新区世纪大道100号", "masked": False}  # fmt: skip
    assert mine.json() == _expected(ref, whole)
    assert len(sent) == 2, sent  # the key's principal, then the view: no BEGIN, no COMMIT

    async with round_trips(engine) as sent:
        again = await client.get(
            "/v1/orders/SO7001", headers={**shop, "If-None-Match": mine.headers["etag"]}
        )
    assert (again.status_code, again.headers["etag"]) == (304, mine.headers["etag"])
    assert len(sent) == 2, sent

    staff = await client.get("/v1/orders/SO7001", headers=ops)
    masked = {"name": "王**", "phone": "138****8000", "region_code": "310000",
              "detail": "浦东新区****", "masked": True}  # fmt: skip
    assert staff.json() == _expected(ref, masked)

    async with round_trips(engine) as sent:
        hidden = await client.get("/v1/orders/SO7001", headers=other)  # another storefront's
        missing = await client.get("/v1/orders/SO7999", headers=shop)
    assert (hidden.status_code, missing.status_code) == (404, 404)
    assert hidden.json()["detail"] == missing.json()["detail"].replace("SO7999", "SO7001")
    assert len(sent) == 4, sent


async def test_a_package_is_read_in_two_round_trips_and_only_in_its_warehouse(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    session_factory: SessionFactory,
    key_headers: MakeHeaders,
    ref: Ref,
) -> None:
    shop = await key_headers("storefront")
    await _an_order(session_factory, await _key_id(session_factory, shop), ref)
    device = await key_headers("device", ref.warehouse_id)

    async with round_trips(engine) as sent:
        shown = await client.get("/v1/packages/PK7001-1", headers=device)
    assert shown.status_code == 200, shown.text
    assert shown.json() == {
        "package_no": "PK7001-1", "order_no": "SO7001", "status": "shipped",
        "expected_weight_g": 1040, "measured_weight_g": 1050, "waybill_no": "WB1",
        "tracking_no": "SF1", "hold_reason": None, "waybill_cancelled_at": None,
        "tracking_events": [{"code": "picked_up", "description": "揽收", "location": "上海",
                             "occurred_at": "2026-12-07T10:00:00Z"}],
    }  # fmt: skip
    assert len(sent) == 2, sent

    async with round_trips(engine) as sent:
        elsewhere = await client.get("/v1/packages/PK7001-2", headers=device)
        missing = await client.get("/v1/packages/PK7999", headers=device)
    assert (elsewhere.status_code, missing.status_code) == (403, 404)
    assert len(sent) == 4, sent


async def test_a_plan_with_nothing_waiting_is_one_look_and_its_audit_row(
    client: httpx.AsyncClient,
    engine: AsyncEngine,
    session_factory: SessionFactory,
    user_headers: MakeHeaders,
    ref: Ref,
) -> None:
    manager = await user_headers("warehouse_manager")
    path = f"/v1/warehouses/{ref.warehouse_id}/waves/plan"
    async with round_trips(engine) as sent:
        planned = await client.post(path, headers=manager)
    assert planned.status_code == 200, planned.text
    assert planned.json() == {"warehouse_id": ref.warehouse_id, "waves": []}
    # BEGIN, the user, their grants, the warehouse with whether any order waits, the audit
    # row, COMMIT
    assert len(sent) == 6, sent
    async with session_factory() as session:
        row = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "warehouse.plan_waves")
        )
    assert row is not None
    assert (row.object_id, row.detail, row.status_code) == (
        str(ref.warehouse_id),
        {"waves": []},
        200,
    )
    assert (
        await client.post("/v1/warehouses/999999/waves/plan", headers=manager)
    ).status_code == 404


async def test_a_key_no_storefront_holds_is_refused_before_any_statement_can_fail(
    client: httpx.AsyncClient, engine: AsyncEngine, key_headers: MakeHeaders
) -> None:
    """The key's principal is read by a statement run alone (not through SQLAlchemy, whose
    data errors answer 422): a prefix PostgreSQL cannot store is refused as any unknown key."""
    shop = await key_headers("storefront")
    real = shop["X-API-Key"]
    start = len(API_KEY_PREFIX)  # the key's 8-character lookup prefix follows "hk_"
    forged = real[:start] + "\x00" + real[start + 1 :]
    async with round_trips(engine) as sent:
        answers = [
            await client.get("/v1/orders/SO7001", headers={"X-API-Key": key})
            for key in (forged, real[:start] + "zzzzzzzz" + real[start + 8 :])
        ]
    assert [a.status_code for a in answers] == [401, 401]
    assert answers[0].json()["detail"] == "invalid or expired credentials"
    assert len(sent) == 1, sent  # the unknown prefix is looked up; the forged one never is
