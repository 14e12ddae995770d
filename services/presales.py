"""Presales (预售, DESIGN §6.8) on the database: an order joining a presale (its terms, refused
when the presale does not take deposits now), its price, its stages (deposit paid, balance paid,
forfeited, cancelled) with the forfeited deposit booked in the money ledger as forfeited income,
and the campaign's live figures.

Money ledger: payments (+) and refunds (−) stay the order's cash, so paid − refunded = Σ of
them; a `forfeit` row (+, once per order) records the part of the deposit kept as income."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.contracts.presale import JoinPresale, PresaleStep, PresaleTerms
from models.db import MoneyEntry, Presale, PresaleOrder


class PresaleError(Exception):
    """The presale cannot take this order, or cannot do what was asked."""


def terms_of(sale: Presale, quantity: int) -> PresaleTerms:
    return PresaleTerms(
        presale_id=sale.id,
        deposit_fen=sale.deposit_fen * quantity,
        balance_starts_at=sale.balance_starts_at,
        balance_ends_at=sale.balance_ends_at,
        forfeit_percent=sale.forfeit_percent,
        refund_percent=sale.refund_percent,
    )


def phase(sale: Presale, now: datetime) -> str:
    """scheduled, deposits (taking orders), balance (window open), ended, or stopped."""
    if sale.status == "stopped":
        return "stopped"
    if now < sale.starts_at:
        return "scheduled"
    if now < sale.balance_starts_at:
        return "deposits"
    if now < sale.balance_ends_at:
        return "balance"
    return "ended"


async def join(session: AsyncSession, request: JoinPresale, now: datetime) -> PresaleTerms:
    """The order's terms, once per order (a retry answers the same terms)."""
    sale = await session.get(Presale, request.presale_id)
    if sale is None:
        raise PresaleError(f"no presale {request.presale_id}")
    done = await session.get(PresaleOrder, request.order_no)
    if done is not None:
        return terms_of(sale, done.quantity)
    if sale.sku_id != request.sku_id:
        raise PresaleError(f"presale {sale.id} sells SKU {sale.sku_id}, not {request.sku_id}")
    if phase(sale, now) != "deposits":
        raise PresaleError(f"presale {sale.id} is not taking deposits")
    terms = terms_of(sale, request.quantity)
    session.add(
        PresaleOrder(
            order_no=request.order_no,
            presale_id=sale.id,
            quantity=request.quantity,
            deposit_fen=terms.deposit_fen,
            stage="placed",
            deposit_paid_fen=0,
            balance_paid_fen=0,
            forfeited_fen=0,
        )
    )
    return terms


async def presale_price(session: AsyncSession, order_no: str, presale_id: int) -> dict[int, int]:
    """{sku_id: unit price in fen} of the presale the order joined (empty if it did not)."""
    joined = await session.get(PresaleOrder, order_no)
    sale = await session.get(Presale, presale_id)
    if joined is None or sale is None or joined.presale_id != presale_id:
        return {}
    return {sale.sku_id: sale.price_fen}


def stage_update(step: PresaleStep) -> Any:
    """The UPDATE moving the order's presale row to the step's stage (and its amount): run
    alone, or as a CTE of the order's timeline step that reaches it."""
    values: dict[str, object] = {"stage": step.stage}
    if step.stage == "deposit_paid":
        values["deposit_paid_fen"] = step.amount_fen
    elif step.stage == "balance_paid":
        values["balance_paid_fen"] = step.amount_fen
    elif step.stage == "forfeited":
        values["forfeited_fen"] = step.amount_fen
    return update(PresaleOrder).where(PresaleOrder.order_no == step.order_no).values(**values)


async def record_step(session: AsyncSession, step: PresaleStep) -> None:
    """The order's stage; a forfeit books its ledger row once (unique by type and order)."""
    if step.stage == "forfeited":
        await session.execute(
            insert(MoneyEntry)
            .values(
                order_no=step.order_no,
                entry_type="forfeit",
                amount_fen=step.amount_fen,
                ref_no=f"FF-{step.order_no}",
            )
            .on_conflict_do_nothing(index_elements=["entry_type", "ref_no"])
        )
    await session.execute(stage_update(step))


@dataclass(frozen=True)
class PresaleFigures:
    orders: int
    awaiting_deposit: int
    deposits_paid: int  # orders whose deposit is in (balance paid or not)
    balances_paid: int
    forfeited: int
    cancelled: int
    deposit_fen: int
    balance_fen: int
    forfeited_fen: int


async def figures(session: AsyncSession, presale_id: int) -> PresaleFigures:
    rows = (
        await session.execute(
            select(
                PresaleOrder.stage,
                func.count(),
                func.coalesce(func.sum(PresaleOrder.deposit_paid_fen), 0),
                func.coalesce(func.sum(PresaleOrder.balance_paid_fen), 0),
                func.coalesce(func.sum(PresaleOrder.forfeited_fen), 0),
            )
            .where(PresaleOrder.presale_id == presale_id)
            .group_by(PresaleOrder.stage)
        )
    ).all()
    count = {str(r[0]): int(r[1]) for r in rows}
    return PresaleFigures(
        orders=sum(count.values()),
        awaiting_deposit=count.get("placed", 0),
        deposits_paid=sum(count.get(s, 0) for s in ("deposit_paid", "balance_paid", "forfeited")),
        balances_paid=count.get("balance_paid", 0),
        forfeited=count.get("forfeited", 0),
        cancelled=count.get("cancelled", 0),
        deposit_fen=sum(int(r[2]) for r in rows),
        balance_fen=sum(int(r[3]) for r in rows),
        forfeited_fen=sum(int(r[4]) for r in rows),
    )
