"""The points ledger's write path (services/points.py) against a real PostgreSQL (DESIGN §6.7):
every booking once per key, the balance never below 0 and always the ledger's sum, spending
refused past the balance, a cancel giving back what refunds have not, earning once with the level
it reaches written to the history once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from core.db import SessionFactory
from core.security import hash_api_key, new_api_key
from models.db import (
    ApiKey,
    Category,
    Customer,
    LevelChange,
    MemberLevel,
    Order,
    OrderLine,
    PointsAccount,
    PointsEntry,
    Sku,
    Spu,
)
from models.domain.points import PointsNotApplicableError
from services import points
from tests.support.invariants import points_accounts_off_ledger

NOW = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
CUSTOMER = 4242


async def an_order(sessions: SessionFactory, order_no: str, *, paid: int, freight: int) -> None:
    key, prefix = new_api_key()
    async with sessions() as session:
        api_key = ApiKey(name=f"shop-{prefix}", prefix=prefix, key_hash=hash_api_key(key),
                         role="storefront")  # fmt: skip
        session.add(api_key)
        await session.flush()
        # The storefront's customer CUSTOMER, whose record has the id CUSTOMER too.
        session.add(Customer(id=CUSTOMER, api_key_id=api_key.id, customer_key=CUSTOMER, name="n",
                             phone="13800000000", addresses=[], channel="app"))  # fmt: skip
        session.add(
            Order(
                order_no=order_no, api_key_id=api_key.id, customer_id=CUSTOMER, status="completed",
                region_code="310115", address={}, goods_list_fen=paid, discount_fen=0,
                freight_fen=freight, payable_fen=paid, paid_fen=paid, refunded_fen=0,
                payment_deadline=NOW + timedelta(minutes=30), placed_at=NOW,
            )
        )  # fmt: skip
        await session.commit()


async def balance(sessions: SessionFactory) -> int:
    async with sessions() as session:
        held = await session.get(PointsAccount, CUSTOMER)
        assert await points_accounts_off_ledger(session) == []
        return held.balance if held else 0


async def test_spending_is_booked_once_and_never_past_the_balance(
    session_factory: SessionFactory,
) -> None:
    async with session_factory() as session:
        assert await points.adjust(session, CUSTOMER, 100, "w", "welcome", "user:cs")
        await points.spend(session, "SO1", CUSTOMER, 80, NOW)
        await points.spend(session, "SO1", CUSTOMER, 80, NOW)  # a retry: nothing more
        await session.commit()
    assert await balance(session_factory) == 20
    async with session_factory() as session:
        with pytest.raises(PointsNotApplicableError):
            await points.spend(session, "SO2", CUSTOMER, 21, NOW)
        await session.rollback()
        with pytest.raises(PointsNotApplicableError):
            await points.adjust(session, CUSTOMER, -21, "x", "too much", "user:cs")
        await session.rollback()
        assert not await points.adjust(session, CUSTOMER, 100, "w", "welcome", "user:cs")
        await session.commit()
    assert await balance(session_factory) == 20


async def test_a_cancel_gives_back_what_was_spent_once(session_factory: SessionFactory) -> None:
    await an_order(session_factory, "SO9", paid=10_000, freight=0)
    async with session_factory() as session:
        await points.adjust(session, CUSTOMER, 500, "w", "welcome", "user:cs")
        await points.spend(session, "SO9", CUSTOMER, 300, NOW)
        await points.book(session, CUSTOMER, "refund", 100, "AS1:refund", order_no="SO9")
        await session.commit()
    assert await balance(session_factory) == 300
    for _ in range(2):  # a retried activity
        async with session_factory() as session:
            await points.give_back_cancelled(session, "SO9")
            await session.commit()
    assert await balance(session_factory) == 500


async def test_a_completed_order_earns_once_and_reaches_a_level_once(
    session_factory: SessionFactory,
) -> None:
    await an_order(session_factory, "SO7", paid=12_345 + 800, freight=800)
    async with session_factory() as session:
        session.add_all(
            [
                MemberLevel(code="L1", name="one", growth_threshold=0),
                MemberLevel(code="L2", name="two", growth_threshold=100, discount_percent=3),
                MemberLevel(code="L3", name="three", growth_threshold=1_000),
            ]
        )
        await session.commit()
    for _ in range(2):
        async with session_factory() as session:
            got = await points.earn_for_order(session, "SO7")
            await session.commit()
    assert (got.points, got.growth) == (123, 123)
    async with session_factory() as session:
        account = await session.get(PointsAccount, CUSTOMER)
        assert account is not None and (account.balance, account.growth) == (123, 123)
        level_two = await session.scalar(select(MemberLevel.id).where(MemberLevel.code == "L2"))
        assert account.level_id == level_two
        history = list(await session.scalars(select(LevelChange)))
        assert [(h.from_level_id, h.to_level_id, h.order_no) for h in history] == [
            (None, level_two, "SO7")
        ]
        terms = await points.member_terms(session, CUSTOMER)
        assert terms is not None and terms.discount_percent == 3
        earned = list(await session.scalars(select(PointsEntry.kind)))
        assert earned == ["earn"]


async def test_changed_thresholds_move_every_account_with_a_history_row(
    session_factory: SessionFactory,
) -> None:
    async with session_factory() as session:
        low = MemberLevel(code="LOW", name="low", growth_threshold=10)
        high = MemberLevel(code="HIGH", name="high", growth_threshold=1_000)
        session.add_all([low, high])
        await session.flush()
        for customer, growth in ((1, 5), (2, 50), (3, 5_000)):
            await points.book(session, customer, "earn", growth, f"SO{customer}:earn",
                              growth=growth)  # fmt: skip
            await points.relevel(session, customer)
        await session.commit()
        low_id, high_id = low.id, high.id
    async with session_factory() as session:
        for level_id, threshold in ((low_id, 1), (high_id, 40)):
            level = await session.get(MemberLevel, level_id)
            assert level is not None
            level.growth_threshold = threshold  # customer 1 reaches LOW now, customer 2 HIGH
        await session.flush()
        assert await points.update_account_level_ids(session) == 2
        assert await points.update_account_level_ids(session) == 0  # nothing left to move
        await session.commit()
    async with session_factory() as session:
        levels = dict((await session.execute(select(PointsAccount.customer_id,
                                                    PointsAccount.level_id))).all())  # fmt: skip
        assert levels == {1: low_id, 2: high_id, 3: high_id}
        moves = (
            await session.execute(
                select(
                    LevelChange.customer_id, LevelChange.from_level_id, LevelChange.to_level_id
                ).order_by(LevelChange.id)
            )
        ).all()
        shown = [tuple(m) for m in moves]
        assert shown[:2] == [(2, None, low_id), (3, None, high_id)]
        assert sorted(shown[2:]) == [(1, None, low_id), (2, low_id, high_id)]


async def a_priced_order(sessions: SessionFactory, order_no: str, points_fen: list[int]) -> None:
    """An order whose lines (3 units each) bore `points_fen` of a points discount."""
    await an_order(sessions, order_no, paid=10_000, freight=0)
    async with sessions() as session:
        category = Category(code=f"c-{order_no}", name="c")
        session.add(category)
        await session.flush()
        spu = Spu(code=f"p-{order_no}", name="p", category_id=category.id)
        session.add(spu)
        await session.flush()
        sku = Sku(spu_id=spu.id, code=f"s-{order_no}", name="s", barcode=f"b-{order_no}",
                  weight_g=100, volume_cm3=100,
                  list_price_fen=5_000)  # fmt: skip
        session.add(sku)
        await session.flush()
        for line_no, fen in enumerate(points_fen, start=1):
            allocations = [{"source": "points", "source_id": 0, "amount_fen": fen}]
            session.add(
                OrderLine(order_no=order_no, line_no=line_no, sku_id=sku.id, quantity=3,
                          unit_price_fen=5_000, list_amount_fen=15_000, discount_fen=fen,
                          paid_fen=15_000 - fen, allocations=allocations)
            )  # fmt: skip
        await session.commit()


async def test_package_refunds_give_back_pro_rata_and_units_count_even_for_zero_points(
    session_factory: SessionFactory,
) -> None:
    await a_priced_order(session_factory, "SO5", [2, 10])
    async with session_factory() as session:
        await points.adjust(session, CUSTOMER, 12, "w", "welcome", "user:cs")
        await points.spend(session, "SO5", CUSTOMER, 12, NOW)
        await session.commit()
    steps = [("RF5A", {1: 1}), ("RF5A", {1: 1}), ("RF5B", {1: 2}), ("RF5C", {2: 3})]
    given = []
    for ref, units in steps:  # RF5A twice: a retried activity
        async with session_factory() as session:
            given.append(await points.give_back_refund(session, "SO5", ref, units))
            await session.commit()
    # line 1: ⌊2 × 1/3⌋ = 0 fen back for one unit (booked, 0 points), then the rest (2);
    # line 2: all of it (10)
    assert given == [0, 0, 2, 10]
    assert await balance(session_factory) == 12
    async with session_factory() as session:
        rows = (
            await session.execute(
                select(PointsEntry.key, PointsEntry.points)
                .where(PointsEntry.kind == "refund")
                .order_by(PointsEntry.id)
            )
        ).all()
        assert [tuple(r) for r in rows] == [("RF5A:refund", 0), ("RF5B:refund", 2),
                                            ("RF5C:refund", 10)]  # fmt: skip
        await points.give_back_cancelled(session, "SO5")  # nothing left to give back
        await session.commit()
    assert await balance(session_factory) == 12
