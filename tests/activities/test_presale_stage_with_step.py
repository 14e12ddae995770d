"""A presale order's deposit (or balance) paid is written with the order's timeline step, in the
one statement that writes the step: a reader who sees the order paid sees the presale count it
paid too (the console's live figures were read between two writes and showed it awaiting)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import make_session_factory
from models.contracts.order import Actor, StatusChange
from models.contracts.presale import PresaleStep
from models.db import ApiKey, OrderEvent, Presale, PresaleOrder, Sku
from services import orders, presales
from services.timeline import statements_commit_alone
from tests.support.report_orders import _order

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
PROVIDER = Actor(kind="provider", name="sandbox")


async def test_the_deposit_paid_step_and_the_presale_stage_are_one_statement(
    seeded_engine: AsyncEngine,
) -> None:
    sessions = make_session_factory(seeded_engine)
    async with sessions() as session:
        shop = await session.scalar(select(ApiKey.id).limit(1))
        sku = await session.scalar(select(Sku.id).limit(1))
        assert shop is not None and sku is not None
        sale = Presale(name="新品", sku_id=sku, price_fen=5000, deposit_fen=1000,
                       starts_at=NOW - timedelta(days=1), balance_starts_at=NOW + timedelta(days=1),
                       balance_ends_at=NOW + timedelta(days=2), forfeit_percent=100,
                       refund_percent=50, created_by="ops")  # fmt: skip
        session.add(sale)
        await session.commit()
        sale_id = sale.id
    await _order(sessions, "SO9101", shop, NOW, [])
    async with sessions() as session:
        session.add(PresaleOrder(order_no="SO9101", presale_id=sale_id, quantity=1,
                                 deposit_fen=1000, stage="placed", deposit_paid_fen=0,
                                 balance_paid_fen=0, forfeited_fen=0))  # fmt: skip
        await session.commit()

    change = StatusChange(
        order_no="SO9101", status="awaiting_payment", step="deposit_paid", key="002-deposit_paid",
        seq=2, at=NOW, actor=PROVIDER, detail={"amount_fen": 1000},
        presale=PresaleStep(order_no="SO9101", presale_id=sale_id, stage="deposit_paid",
                            amount_fen=1000),
    )  # fmt: skip
    assert orders.status_one_statement(change)
    async with sessions() as session:
        await statements_commit_alone(session)
        await orders.record_status(session, change)
        # no commit: the one statement committed on its own, the stage with it
    for _ in range(2):  # a retried activity writes the same again, once
        async with sessions() as session:
            await orders.record_status(session, change)
            await session.commit()

    async with sessions() as session:
        joined = await session.get(PresaleOrder, "SO9101")
        steps = list(
            await session.scalars(select(OrderEvent.step).where(OrderEvent.order_no == "SO9101"))
        )
        figures = await presales.figures(session, sale_id)
    assert joined is not None
    assert (joined.stage, joined.deposit_paid_fen) == ("deposit_paid", 1000)
    assert steps.count("deposit_paid") == 1
    assert (figures.awaiting_deposit, figures.deposits_paid, figures.deposit_fen) == (0, 1, 1000)
