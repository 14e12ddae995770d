"""The activities that create an order spend few round trips to PostgreSQL (issue 18): reserve
is one transaction of two statements (the locking read, which also finds a retry, and one
statement writing every line's hold, reservation and movement), recording the order is one
statement committed on its own (the order, its lines, packages and the `placed` step). What
they write is the same on a retry, and the stock ledger still balances."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.engine.interfaces import CacheStats
from sqlalchemy.ext.asyncio import AsyncEngine

from activities.inventory import InventoryActivities
from activities.orders import OrderActivities
from activities.payments import PaymentActivities
from activities.providers import PaymentProvider
from core.db import make_session_factory
from models.contracts.order import (
    PaymentReceived,
    PlaceOrderRequest,
    Quote,
    QuoteRequest,
    RecordOrderRequest,
    RecordPackageRequest,
    RecordPaymentRequest,
    ReserveRequest,
    ShippingAddress,
)
from models.contracts.pricing import CartLine, LineAssignment
from models.db import (
    Customer,
    FreightPolicy,
    FreightRule,
    MemberLevel,
    MoneyEntry,
    Order,
    OrderEvent,
    Package,
    PackageLine,
    PointsAccount,
    Reservation,
    Sku,
    Stock,
    StockMovement,
)
from models.db import (
    OrderLine as OrderLineRow,
)
from models.domain.warehouse_choice import OutOfStockError
from services import orders as orders_service
from services import reservations
from services.timeline import statements_commit_alone
from tests.support.invariants import assert_stock_invariants
from tests.support.sales import line, skus, storefront
from tests.support.sales import order as sales_order

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
REGION = "310115"


@dataclass
class Trips:
    """What one piece of work sent: statements, and transactions begun (BEGIN ... COMMIT, two
    round trips more each)."""

    statements: list[str] = field(default_factory=list)
    transactions: int = 0
    compiled: list[str] = field(default_factory=list)  # statements not found compiled


@contextmanager
def counted(engine: AsyncEngine) -> Iterator[Trips]:
    trips = Trips()

    def statement(_conn: Any, _cursor: Any, sql: str, _params: Any, context: Any, *_: Any) -> None:
        trips.statements.append(sql)
        if context.compiled is not None and context.cache_hit != CacheStats.CACHE_HIT:
            trips.compiled.append(sql)

    def begin(conn: Any) -> None:
        if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
            trips.transactions += 1

    target = engine.sync_engine
    event.listen(target, "before_cursor_execute", statement)
    event.listen(target, "begin", begin)
    try:
        yield trips
    finally:
        event.remove(target, "before_cursor_execute", statement)
        event.remove(target, "begin", begin)


async def test_reserving_and_recording_an_order_take_three_statements_and_one_transaction(
    seeded_engine: AsyncEngine,
) -> None:
    sessions = make_session_factory(seeded_engine)
    async with sessions() as session:
        (sku, category, warehouse), (other, other_category, _) = await skus(session)
        shop = await storefront(session)
        funnel_before = await session.scalar(
            text("SELECT coalesce(sum(placed), 0) FROM order_funnel_days WHERE api_key_id = :k"),
            {"k": shop},
        )
        stock_before = {
            row.sku_id: row.reserved
            for row in await session.scalars(
                select(Stock).where(Stock.sku_id.in_([sku, other]), Stock.warehouse_id == warehouse)
            )
        }
    inventory, orders = InventoryActivities(sessions), OrderActivities(sessions)
    lines = [line(1, sku, category, 2, 1000, 100), line(2, other, other_category, 1, 500, 0),
             line(3, sku, category, 3, 1000, 0)]  # the same SKU twice: 5 units  # fmt: skip
    reserve = ReserveRequest(order_no="SO9100", region_code=REGION, lines=lines)

    with counted(seeded_engine) as trips:
        reservation = await inventory.reserve_stock(reserve)
    assert len(trips.statements) == 2, trips.statements
    assert trips.transactions == 1

    [plan] = reservation.packages
    assert plan.package_no == "PK910001" and plan.warehouse_id == warehouse
    assert [(li.line_no, li.sku_id, li.quantity) for li in plan.lines] == [
        (1, sku, 2),
        (2, other, 1),
        (3, sku, 3),
    ]
    async with sessions() as session:
        found = await session.execute(
            text("SELECT id, weight_g FROM skus WHERE id IN (:a, :b)"), {"a": sku, "b": other}
        )
        weights: dict[int, int] = {int(k): int(w) for k, w in found}
    assert plan.weight_g == 5 * weights[sku] + weights[other]

    # a retry answers the same and books nothing twice
    assert await inventory.reserve_stock(reserve) == reservation
    async with sessions() as session:
        reserved = {
            row.sku_id: row.reserved
            for row in await session.scalars(
                select(Stock).where(Stock.sku_id.in_([sku, other]), Stock.warehouse_id == warehouse)
            )
        }
        assert reserved == {sku: stock_before[sku] + 5, other: stock_before[other] + 1}
        held = (
            await session.execute(
                select(Reservation.line_no, Reservation.quantity, Reservation.status)
                .where(Reservation.order_no == "SO9100")
                .order_by(Reservation.line_no)
            )
        ).all()
        assert [tuple(r) for r in held] == [(1, 2, "held"), (2, 1, "held"), (3, 3, "held")]
        keys = list(
            await session.scalars(
                select(StockMovement.idempotency_key)
                .where(StockMovement.ref_no == "SO9100")
                .order_by(StockMovement.idempotency_key)
            )
        )
        assert keys == ["reserve:PK910001:1", "reserve:PK910001:2", "reserve:PK910001:3"]
        await assert_stock_invariants(session)

    quote = Quote(
        lines=lines, discounts=[], coupon_id=None, goods_list_fen=5500, discount_fen=100,
        goods_paid_fen=5400, freight_fen=800, payable_fen=6200, packages=reservation.packages,
    )  # fmt: skip
    record = RecordOrderRequest(
        order_no="SO9100",
        placed=PlaceOrderRequest(
            order_no="SO9100",
            storefront="demo",
            api_key_id=shop,
            customer_id=1,
            lines=[],
            address=ShippingAddress(
                name="张三", phone="13800000000", region_code=REGION, detail="路 1 号"
            ),
        ),
        quote=quote,
        packages=reservation.packages,
        payment_deadline=NOW + timedelta(minutes=30),
        placed_at=NOW,
        under_review=False,
    )
    before = datetime.now(UTC)
    with counted(seeded_engine) as trips:
        written = await orders.record_order(record)
    assert len(trips.statements) == 1, trips.statements
    # When it was written: the order's payment deadline is timed from it (workflows/order.py).
    assert written is not None and before <= written <= datetime.now(UTC)
    assert trips.transactions == 0  # committed on its own

    await orders.record_order(record)  # a retry: nothing written twice
    async with sessions() as session:
        order = await session.get(Order, "SO9100")
        assert order is not None
        assert (order.status, order.payable_fen, order.freight_fen) == (
            "awaiting_payment",
            6200,
            800,
        )
        assert (order.api_key_id, order.region_code, order.under_review) == (shop, REGION, False)
        assert order.pricing == {"discounts": []}
        assert order.payment_deadline == NOW + timedelta(minutes=30)
        rows = (
            await session.execute(
                select(OrderLineRow.line_no, OrderLineRow.paid_fen, OrderLineRow.allocations)
                .where(OrderLineRow.order_no == "SO9100")
                .order_by(OrderLineRow.line_no)
            )
        ).all()
        assert [tuple(r) for r in rows] == [(1, 1900, []), (2, 500, []), (3, 3000, [])]
        package = await session.get(Package, "PK910001")
        assert package is not None
        assert (package.order_no, package.status, package.warehouse_id) == (
            "SO9100",
            "pending",
            warehouse,
        )
        package_lines = (
            await session.execute(
                select(PackageLine.line_no, PackageLine.quantity)
                .where(PackageLine.package_no == "PK910001")
                .order_by(PackageLine.line_no)
            )
        ).all()
        assert [tuple(r) for r in package_lines] == [(1, 2), (2, 1), (3, 3)]
        placed = list(
            await session.scalars(
                select(OrderEvent.detail).where(
                    OrderEvent.order_no == "SO9100", OrderEvent.step == "placed"
                )
            )
        )
        assert placed == [{"payable_fen": 6200}]
        funnel = await session.scalar(
            text("SELECT coalesce(sum(placed), 0) FROM order_funnel_days WHERE api_key_id = :k"),
            {"k": shop},
        )
        assert funnel == funnel_before + 1  # the timeline trigger saw the order's row, once

    # Another order, of another number of lines and packages, is recorded by the statement
    # compiled for the first (a multi-row VALUES was compiled again on every call).
    other_plan = plan.model_copy(update={"package_no": "PK910101", "lines": plan.lines[:1]})
    other = record.model_copy(
        update={
            "order_no": "SO9101",
            "quote": quote.model_copy(update={"lines": lines[:1], "packages": [other_plan]}),
            "packages": [other_plan, other_plan.model_copy(update={"package_no": "PK910102"})],
        }
    )
    with counted(seeded_engine) as trips:
        await orders.record_order(other)
    assert (len(trips.statements), trips.compiled) == (1, [])
    async with sessions() as session:
        found = await session.execute(
            select(PackageLine.package_no, PackageLine.line_no, PackageLine.quantity)
            .join(Package, Package.package_no == PackageLine.package_no)
            .where(Package.order_no == "SO9101")
            .order_by(PackageLine.package_no)
        )
        assert [tuple(r) for r in found] == [("PK910101", 1, 2), ("PK910102", 1, 2)]
        assert (
            await session.scalar(select(func.count()).where(OrderLineRow.order_no == "SO9101")) == 1
        )

    # a package added later (a reship): one statement committed alone, written once
    reship = RecordPackageRequest(
        order_no="SO9100",
        package=plan.model_copy(update={"package_no": "PK910002", "lines": plan.lines[:1]}),
    )
    with counted(seeded_engine) as trips:
        await orders.record_package(reship)
    assert (len(trips.statements), trips.transactions) == (1, 0)
    with counted(seeded_engine) as trips:  # compiled once, like the order's
        await orders.record_package(reship.model_copy(update={"package": other_plan}))
    assert trips.compiled == []
    await orders.record_package(reship)
    async with sessions() as session:
        count = await session.scalar(
            select(func.count()).where(PackageLine.package_no == "PK910002")
        )
        assert count == 1


async def test_a_hold_short_of_stock_raises_and_its_transaction_books_nothing(
    seeded_engine: AsyncEngine,
) -> None:
    """Stock gone between the locking read and the write (a batch disabled, say): the one
    writing statement finds the (SKU, warehouse) short, the reserve raises naming the part,
    and nothing of its transaction stays."""
    sessions = make_session_factory(seeded_engine)
    async with sessions() as session:
        (sku, _, warehouse), (other, _, _) = await skus(session)
        sellable = await session.scalar(
            select(Stock.on_hand - Stock.reserved - Stock.safety_hold).where(
                Stock.sku_id == sku, Stock.warehouse_id == warehouse
            )
        )
        before = await session.scalar(
            select(func.sum(Stock.reserved)).where(Stock.sku_id.in_([sku, other]))
        )
    assert sellable is not None and sellable > 1
    parts = [  # together more than sellable, each alone within it
        (LineAssignment(line_no=1, sku_id=other, warehouse_id=warehouse, quantity=1), "PK910101"),
        (LineAssignment(line_no=2, sku_id=sku, warehouse_id=warehouse, quantity=1), "PK910101"),
        (LineAssignment(line_no=3, sku_id=sku, warehouse_id=warehouse, quantity=sellable),
         "PK910101"),
    ]  # fmt: skip
    async with sessions() as session:
        with pytest.raises(OutOfStockError) as short:
            await reservations._hold_all(session, "SO9101", parts, "system:test")
        await session.rollback()
    assert short.value.sku_ids == [sku]
    async with sessions() as session:
        after = await session.scalar(
            select(func.sum(Stock.reserved)).where(Stock.sku_id.in_([sku, other]))
        )
        assert after == before
        rows = await session.scalar(select(func.count()).where(Reservation.order_no == "SO9101"))
        assert rows == 0


async def test_a_quote_reads_in_four_statements_the_customer_with_their_level_and_freight(
    seeded_engine: AsyncEngine,
) -> None:
    """Promotions, SKU facts, the customer with their level, the freight policy with the
    templates' rules: one statement each, none in a transaction."""
    sessions = make_session_factory(seeded_engine)
    async with sessions() as session:
        (sku, _, _), (other, _, _) = await skus(session)
        shop = await storefront(session)
        level = MemberLevel(
            code="w3-gold", name="金卡", growth_threshold=987_654_321, discount_percent=5,
            free_shipping=True,
        )  # fmt: skip
        customer = Customer(
            api_key_id=shop, customer_key=9100, name="张三", phone="13800009100", channel="app"
        )
        session.add_all([level, customer])
        await session.flush()
        session.add(PointsAccount(customer_id=customer.id, balance=0, growth=0, level_id=level.id))
        await session.commit()
        level_id = level.id
        templates = set(
            await session.scalars(
                select(Sku.freight_template_id).where(
                    Sku.id.in_([sku, other]), Sku.freight_template_id.is_not(None)
                )
            )
        )
        expected_rules = {
            template: list(
                await session.scalars(
                    select(FreightRule.id)
                    .where(FreightRule.template_id == template)
                    .order_by(FreightRule.id)
                )
            )
            for template in templates
        }
        policy = await session.get(FreightPolicy, 1)
    request = QuoteRequest(
        order_no="SO9102",
        customer_id=9100,
        api_key_id=shop,
        lines=[CartLine(sku_id=sku, quantity=1), CartLine(sku_id=other, quantity=2)],
        coupon_code=None,
        region_code=REGION,
        at=NOW,
    )
    with counted(seeded_engine) as trips:
        quote = await OrderActivities(sessions).quote_order(request)
    assert len(trips.statements) == 4, trips.statements
    assert trips.transactions == 0
    assert [(li.sku_id, li.quantity) for li in quote.lines if not li.is_gift] == [
        (sku, 1),
        (other, 2),
    ]

    async with sessions() as session:
        await statements_commit_alone(session)
        priced = await orders_service.pricing_request(session, request)
        unknown = await orders_service.pricing_request(
            session, request.model_copy(update={"customer_id": 9199})
        )
    assert priced.member is not None
    assert (priced.member.level_id, priced.member.discount_percent) == (level_id, 5)
    assert priced.member.free_shipping is True
    assert unknown.member is None  # no such customer: no level
    assert expected_rules and all(expected_rules.values())  # the seed's SKUs name templates
    assert {t.template_id: [r.rule_id for r in t.rules] for t in priced.freight.templates} == (
        expected_rules
    )
    if policy is not None:
        assert priced.freight.policy.mode == policy.mode


async def test_an_accepted_payment_is_one_statement_booked_once(
    seeded_engine: AsyncEngine,
) -> None:
    """The payment's row, the ledger's + row, the order's paid figure and the timeline step in
    one statement committed alone; a retry books nothing twice (paid = Σ ledger)."""
    sessions = make_session_factory(seeded_engine)
    async with sessions() as session:
        (sku, category, _), _ = await skus(session)
        shop = await storefront(session)
        await sales_order(
            session, "SO9103", shop, REGION, [line(1, sku, category, 2, 1000, 0)], 500, NOW
        )
    paid = RecordPaymentRequest(
        order_no="SO9103",
        payment=PaymentReceived(
            provider="mockpay",
            transaction_id="TX-SO9103",
            payment_id="PAY-SO9103",
            amount_fen=2500,
            currency="CNY",
            paid_at=NOW,
        ),
        accepted=True,
        at=NOW,
    )
    activities = PaymentActivities(sessions, cast(PaymentProvider, None), "")
    with counted(seeded_engine) as trips:
        await activities.record_payment(paid)
    assert (len(trips.statements), trips.transactions) == (1, 0), trips.statements
    await activities.record_payment(paid)  # a retry
    async with sessions() as session:
        order = await session.get(Order, "SO9103")
        assert order is not None and order.paid_fen == 2500
        ledger = list(
            await session.scalars(
                select(MoneyEntry.amount_fen).where(MoneyEntry.order_no == "SO9103")
            )
        )
        assert ledger == [2500]
        steps = list(
            await session.scalars(
                select(OrderEvent.step).where(
                    OrderEvent.order_no == "SO9103", OrderEvent.step == "payment_received"
                )
            )
        )
        assert steps == ["payment_received"]
