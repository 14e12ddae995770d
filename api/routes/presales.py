"""Presale routes (预售, DESIGN §6.8): staff create and schedule a presale (its SKU, price,
deposit, balance window and the forfeit and refund rules), watch it live (deposits against
balances paid, forfeited) and stop it early (no new orders; orders already placed keep their
terms). Buyers go through `POST /v1/orders` with `presale_id`; the order's workflow does the
rest (workflows/order.py, the presale-order patch)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Query
from sqlalchemy import select

from api.deps import Session, Writer, actor_of, require, writer
from api.errors import conflict, invalid, not_found
from api.pagination import Paging, fetch_page
from api.routing import Routes
from api.schemas.presales import (
    PresaleCreate,
    PresaleDetail,
    PresalePublic,
    PresaleSort,
    PresalesPublic,
    PresaleStatus,
    PresaleStopIn,
)
from api.schemas.types import IdParam
from models.db import Presale, Sku
from services import presales

router = Routes(prefix="/v1/presales", tags=["presales"])
Read = Depends(require("promotions.read"))
Write = Annotated[Writer, Depends(writer("promotions.write"))]


def public(sale: Presale) -> PresalePublic:
    return PresalePublic.model_validate(
        {
            **{c.key: getattr(sale, c.key) for c in Presale.__table__.columns},
            "phase": presales.phase(sale, datetime.now(UTC)),
        }
    )


@router.get("", dependencies=[Read])
async def list_presales(
    session: Session,
    paging: Paging,
    status: PresaleStatus | None = None,
    sku_id: IdParam | None = None,
    sort: Annotated[
        PresaleSort, Query(description="column to sort by; a leading `-` sorts descending")
    ] = "-starts_at",
) -> PresalesPublic:
    by = Presale.id if sort.endswith("id") else Presale.starts_at
    query = select(Presale).order_by(
        *((by.desc(), Presale.id.desc()) if sort.startswith("-") else (by, Presale.id))
    )
    if status is not None:
        query = query.where(Presale.status == status)
    if sku_id is not None:
        query = query.where(Presale.sku_id == sku_id)
    rows, count = await fetch_page(session, query, paging)
    return PresalesPublic(data=[public(r) for r in rows], count=count)


@router.post("", status_code=201)
async def create_presale(body: PresaleCreate, w: Write) -> PresaleDetail:
    """Create and schedule the presale: deposits from `starts_at`, the balance in its window."""
    if body.balance_starts_at <= body.starts_at:
        raise invalid("balance_starts_at", "must be after starts_at", "not_after_start")
    if body.balance_ends_at <= body.balance_starts_at:
        raise invalid(
            "balance_ends_at", "must be after balance_starts_at", "not_after_balance_start"
        )
    if body.balance_starts_at <= datetime.now(UTC):
        raise invalid("balance_starts_at", "must be in the future", "not_in_future")
    if body.price_fen <= 0:
        raise invalid("price_fen", "must be positive", "not_positive")
    if not 0 < body.deposit_fen < body.price_fen:
        raise invalid(
            "deposit_fen", "must be positive and below the presale price", "deposit_not_below_price"
        )
    sku = await w.session.get(Sku, body.sku_id)
    if sku is None or not sku.active:
        raise invalid(
            "sku_id", f"no such active SKU: {body.sku_id}", "unknown_sku", sku_id=body.sku_id
        )
    sale = Presale(
        name=body.name,
        sku_id=body.sku_id,
        price_fen=body.price_fen,
        deposit_fen=body.deposit_fen,
        starts_at=body.starts_at,
        balance_starts_at=body.balance_starts_at,
        balance_ends_at=body.balance_ends_at,
        forfeit_percent=body.forfeit_percent,
        refund_percent=body.refund_percent,
        status="active",
        created_by=w.principal.name[:100],
    )
    w.session.add(sale)
    await w.session.flush()
    await w.commit("presale.create", "presale", sale.id, {"sku_id": sale.sku_id})
    return await _detail(w.session, sale.id)


async def _detail(session: Session, presale_id: int) -> PresaleDetail:
    sale = await session.get(Presale, presale_id, populate_existing=True)
    if sale is None:
        raise not_found("presale", presale_id)
    live = await presales.figures(session, sale.id)
    return PresaleDetail.model_validate(
        {
            **public(sale).model_dump(),
            "orders": live.orders,
            "awaiting_deposit": live.awaiting_deposit,
            "deposits_paid": live.deposits_paid,
            "balances_paid": live.balances_paid,
            "forfeited": live.forfeited,
            "cancelled": live.cancelled,
            "deposit_fen_paid": live.deposit_fen,
            "balance_fen_paid": live.balance_fen,
            "forfeited_fen": live.forfeited_fen,
        }
    )


@router.get("/{presale_id}", dependencies=[Read])
async def get_presale(presale_id: IdParam, session: Session) -> PresaleDetail:
    """Live: orders, deposits paid against balances paid, forfeited deposits."""
    return await _detail(session, presale_id)


@router.post("/{presale_id}/stop")
async def stop_presale(presale_id: IdParam, body: PresaleStopIn, w: Write) -> PresaleDetail:
    """Stop taking deposits now (409 once stopped); orders placed keep their terms."""
    sale = await w.session.get(Presale, presale_id, with_for_update=True)
    if sale is None:
        raise not_found("presale", presale_id)
    if sale.status == "stopped":
        raise conflict(f"presale {sale.id} is stopped", reason="presale_stopped", sale=sale.name)
    actor = actor_of(w.principal)
    sale.status = "stopped"
    sale.stopped_at = datetime.now(UTC)
    sale.stopped_by = f"{actor.kind}:{actor.name}"[:100]
    sale.stop_reason = body.reason[:200]
    await w.commit("presale.stop", "presale", presale_id, {"reason": body.reason})
    return await _detail(w.session, presale_id)
