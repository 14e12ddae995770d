"""Group-buy routes (拼团, DESIGN §6.8). Operations create and schedule offers, watch their
groups and stop an offer early; the storefront opens a group on a live offer or joins one.

Opening or joining takes the seat first, in the group's process (`group-GB…`: its join Update
refuses a closed or full group and a customer already in it, atomically — the customer being
the record of the storefront's key, so two storefronts' customer 7 are two members), then
places the member's order at the group price (an ordinary `order-SO…`, paid as any order); an
order the back office cannot place gives its seat back at once."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import Depends, Query
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError

from api.deps import AppDeps, Deps, Principal, Session, Writer, require, writer
from api.errors import Problem, conflict, invalid, not_found
from api.order_views import order_public, unknown_customer
from api.pagination import Paging, fetch_page
from api.routes.orders import placed
from api.routing import Routes
from api.schemas.group_buys import (
    GroupDetail,
    GroupJoin,
    GroupMemberPublic,
    GroupOpen,
    GroupPublic,
    GroupsPublic,
    JoinedPublic,
    OfferCreate,
    OfferFigures,
    OfferPublic,
    OffersPublic,
    OfferStatus,
    OfferStop,
)
from api.schemas.types import IdParam, NoParam
from api.workflow_calls import UPDATE_RPC_TIMEOUT, Process, answer, resent_if_lost, update
from models.contracts import messages
from models.contracts.group_buy import CloseGroup, GroupInput, GroupLink, JoinRequest, MemberLeft
from models.contracts.order import PlaceOrderRequest, ShippingAddress
from models.contracts.pricing import CartLine
from models.db import GroupBuy, GroupBuyMember, GroupBuyOffer, Sku
from models.domain.business_day import BUSINESS_TZ
from services import customers
from services.group_buys import group_number, offer_status
from services.order_numbers import order_number
from workflows.group_buy import GroupBuyWorkflow

router = Routes(prefix="/v1", tags=["group buys"])
Read = Annotated[Principal, Depends(require("promotions.read"))]
Write = Annotated[Writer, Depends(writer("promotions.write"))]
Buyer = Annotated[Writer, Depends(writer("orders.create"))]
GROUP = Process("group", "group-")
GroupSort = Literal["-opened_at", "opened_at", "deadline", "-deadline"]


# --- offers ---------------------------------------------------------------------------------


async def _figures(session: AsyncSession, offer_ids: list[int]) -> dict[int, OfferFigures]:
    """Per offer: groups forming, completed and failed; seats held while forming; paid members."""
    if not offer_ids:
        return {}
    forming = GroupBuy.status == "forming"
    rows = await session.execute(
        select(
            GroupBuy.offer_id,
            func.count().filter(forming),
            func.count().filter(GroupBuy.status == "completed"),
            func.count().filter(GroupBuy.status == "failed"),
            func.coalesce(func.sum(case((forming, GroupBuy.members), else_=0)), 0),
            func.coalesce(func.sum(GroupBuy.paid), 0),
        )
        .where(GroupBuy.offer_id.in_(offer_ids))
        .group_by(GroupBuy.offer_id)
    )
    return {
        r[0]: OfferFigures(
            forming=r[1], completed=r[2], failed=r[3], members=int(r[4]), paid_members=int(r[5])
        )
        for r in rows
    }


def _offer_public(offer: GroupBuyOffer, figures: OfferFigures | None) -> OfferPublic:
    return OfferPublic(
        id=offer.id,
        name=offer.name,
        sku_id=offer.sku_id,
        group_price_fen=offer.group_price_fen,
        group_size=offer.group_size,
        time_limit_minutes=offer.time_limit_minutes,
        starts_at=offer.starts_at,
        ends_at=offer.ends_at,
        stopped_at=offer.stopped_at,
        status=offer_status(offer, datetime.now(UTC)),
        figures=figures or OfferFigures(),
    )


async def _offer(session: AsyncSession, offer_id: int) -> GroupBuyOffer:
    offer = await session.get(GroupBuyOffer, offer_id)
    if offer is None:
        raise not_found("group-buy offer", offer_id)
    return offer


@router.post("/group-buy-offers", status_code=201)
async def create_offer(body: OfferCreate, w: Write) -> OfferPublic:
    if await w.session.get(Sku, body.sku_id) is None:
        raise invalid("sku_id", f"no such SKU: {body.sku_id}", "unknown_sku", sku_id=body.sku_id)
    offer = GroupBuyOffer(**body.model_dump())
    w.session.add(offer)
    await w.session.flush()
    await w.commit(
        "group_buy_offer.create", "group_buy_offer", offer.id, body.model_dump(mode="json")
    )
    return _offer_public(offer, None)


@router.get("/group-buy-offers")
async def list_offers(
    session: Session,
    paging: Paging,
    _: Read,
    status: Annotated[OfferStatus | None, Query()] = None,
) -> OffersPublic:
    now = datetime.now(UTC)
    query = select(GroupBuyOffer).order_by(GroupBuyOffer.starts_at.desc(), GroupBuyOffer.id.desc())
    stopped = GroupBuyOffer.stopped_at.is_not(None)
    if status == "stopped":
        query = query.where(stopped)
    elif status == "scheduled":
        query = query.where(~stopped, GroupBuyOffer.starts_at > now)
    elif status == "ended":
        query = query.where(~stopped, GroupBuyOffer.ends_at <= now)
    elif status == "live":
        query = query.where(~stopped, GroupBuyOffer.starts_at <= now, GroupBuyOffer.ends_at > now)
    rows, count = await fetch_page(session, query, paging)
    figures = await _figures(session, [r.id for r in rows])
    return OffersPublic(data=[_offer_public(r, figures.get(r.id)) for r in rows], count=count)


@router.get("/group-buy-offers/{offer_id}")
async def get_offer(offer_id: IdParam, session: Session, _: Read) -> OfferPublic:
    offer = await _offer(session, offer_id)
    return _offer_public(offer, (await _figures(session, [offer.id])).get(offer.id))


@router.post("/group-buy-offers/{offer_id}/stop")
async def stop_offer(offer_id: IdParam, body: OfferStop, deps: Deps, w: Write) -> OfferPublic:
    """Stop early: no group opens or takes a member from now on; every group still forming
    fails now, its members' orders cancelled and refunded in full."""
    offer = await _offer(w.session, offer_id)
    if offer.stopped_at is not None:
        raise conflict(
            f"group-buy offer {offer_id} is stopped already",
            reason="offer_stopped",
            offer=offer.name,
        )
    offer.stopped_at = datetime.now(UTC)
    forming = list(
        await w.session.scalars(
            select(GroupBuy.group_no).where(
                GroupBuy.offer_id == offer_id, GroupBuy.status == "forming"
            )
        )
    )
    await w.commit(
        "group_buy_offer.stop",
        "group_buy_offer",
        offer_id,
        {"reason": body.reason, "groups": len(forming)},
    )
    client = deps.require_temporal()
    for group_no in forming:
        try:
            await client.get_workflow_handle(GROUP.workflow_id(group_no)).signal(
                GroupBuyWorkflow.close, CloseGroup(reason=f"offer stopped: {body.reason}")
            )
        except RPCError:
            continue  # decided meanwhile: nothing left to close
    return _offer_public(offer, (await _figures(w.session, [offer.id])).get(offer.id))


# --- groups ---------------------------------------------------------------------------------


async def _group_detail(session: AsyncSession, group_no: str) -> GroupDetail:
    group = await session.get(GroupBuy, group_no, populate_existing=True)
    if group is None:
        raise not_found("group", group_no)
    members = await session.scalars(
        select(GroupBuyMember)
        .where(GroupBuyMember.group_no == group_no)
        .order_by(GroupBuyMember.joined_at, GroupBuyMember.order_no)
        .execution_options(populate_existing=True)
    )
    return GroupDetail(
        **GroupPublic.model_validate(group).model_dump(),
        member_list=[GroupMemberPublic.model_validate(m) for m in members],
    )


@router.get("/group-buys")
async def list_groups(
    session: Session,
    paging: Paging,
    _: Read,
    offer_id: IdParam | None = None,
    status: Annotated[Literal["forming", "completed", "failed"] | None, Query()] = None,
    sort: Annotated[
        GroupSort, Query(description="column to sort by; a leading `-` sorts descending")
    ] = "-opened_at",
) -> GroupsPublic:
    by = GroupBuy.deadline if sort.endswith("deadline") else GroupBuy.opened_at
    order = (
        (by.desc(), GroupBuy.group_no.desc()) if sort.startswith("-") else (by, GroupBuy.group_no)
    )
    query = select(GroupBuy).order_by(*order)
    if offer_id is not None:
        query = query.where(GroupBuy.offer_id == offer_id)
    if status is not None:
        query = query.where(GroupBuy.status == status)
    rows, count = await fetch_page(session, query, paging)
    return GroupsPublic(data=[GroupPublic.model_validate(r) for r in rows], count=count)


@router.get("/group-buys/{group_no}")
async def get_group(group_no: NoParam, session: Session, _: Read) -> GroupDetail:
    return await _group_detail(session, group_no)


@dataclass(frozen=True)
class _Member:
    order_no: str
    joined: str | None  # the group this client key joined already (a resend)
    record_id: int  # the customer record (customers.id): who the member is

    def join(self, customer_id: int) -> JoinRequest:
        return JoinRequest(
            customer_id=customer_id, order_no=self.order_no, customer_record_id=self.record_id
        )


async def _member(w: Writer, key: str, customer_id: int) -> _Member:
    """The order number of this client key, its group if it joined one already (a resend), and
    the customer's record: the customer must be one the storefront has upserted, as for any
    order (two storefronts' customer 7 are two members)."""
    record_id = await customers.record_id(w.session, w.principal.id, customer_id)
    if record_id is None:
        raise unknown_customer(customer_id)
    order_no = await order_number(
        w.session,
        api_key_id=w.principal.id,
        client_key=key,
        today=datetime.now(BUSINESS_TZ).date(),
    )
    joined = await w.session.scalar(
        select(GroupBuyMember.group_no).where(GroupBuyMember.order_no == order_no)
    )
    return _Member(order_no, joined, record_id)


def _live(offer: GroupBuyOffer) -> None:
    status = offer_status(offer, datetime.now(UTC))
    if status != "live":
        raise Problem(
            409,
            f"group-buy offer {offer.id} is {status}",
            type_="/problems/GroupClosedError",
            errors=[{"type": "GroupClosedError", "offer_status": status}],
        )


@router.post("/group-buys", status_code=201)
async def open_group(body: GroupOpen, deps: Deps, w: Buyer) -> JoinedPublic:
    """The first buyer opens a group on a live offer (and is its first member). An offer that
    does not exist is the body's fault (422, like any unknown id in a body), not the path's."""
    offer = await w.session.get(GroupBuyOffer, body.offer_id)
    if offer is None:
        raise invalid(
            "offer_id",
            f"no such group-buy offer: {body.offer_id}",
            "unknown_offer",
            offer_id=body.offer_id,
        )
    member = await _member(w, body.client_order_key, body.customer_id)
    order_no, joined = member.order_no, member.joined
    if joined is None:
        _live(offer)
    # The group is named after its first member's order: a resend (same key) opens no other.
    group_no = joined or group_number(order_no)
    await w.session.commit()  # never hold a connection while waiting for a workflow
    group = GroupInput(
        group_no=group_no,
        offer_id=offer.id,
        sku_id=offer.sku_id,
        price_fen=offer.group_price_fen,
        size=offer.group_size,
        time_limit=offer.time_limit_minutes * 60.0,
        opened_by=body.customer_id,
    )

    def send() -> Awaitable[object]:
        start = WithStartWorkflowOperation(  # an operation is used once: a resend makes its own
            GroupBuyWorkflow.run,
            group,
            id=GROUP.workflow_id(group_no),
            task_queue=deps.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        )
        return deps.require_temporal().execute_update_with_start_workflow(
            GroupBuyWorkflow.join,
            member.join(body.customer_id),
            start_workflow_operation=start,
            id=f"join-{order_no}",
            rpc_timeout=UPDATE_RPC_TIMEOUT,
        )

    await answer(resent_if_lost(send), kind="group", ident=group_no)
    return await _place_member(deps, w, offer, group_no, order_no, body, "group_buy.open")


@router.post("/group-buys/{group_no}/members", status_code=201)
async def join_group(group_no: NoParam, body: GroupJoin, deps: Deps, w: Buyer) -> JoinedPublic:
    """A buyer joins a forming group: 409 when it is full or closed, or the customer is in it."""
    group = await w.session.get(GroupBuy, group_no)
    if group is None:
        raise not_found("group", group_no)
    offer = await _offer(w.session, group.offer_id)
    member = await _member(w, body.client_order_key, body.customer_id)
    order_no, joined = member.order_no, member.joined
    if joined is None:
        if group.status != "forming" or offer.stopped_at is not None:
            raise Problem(
                409,
                f"group {group_no} is {group.status if group.status != 'forming' else 'stopped'}",
                type_="/problems/GroupClosedError",
                errors=[{"type": "GroupClosedError"}],
            )
    elif joined != group_no:
        raise conflict(f"order key {body.client_order_key} joined group {joined}")
    await w.session.commit()  # never hold a connection while waiting for a workflow
    await update(
        deps,
        GROUP,
        group_no,
        GroupBuyWorkflow.join,
        member.join(body.customer_id),
        update_id=f"join-{order_no}",
    )
    return await _place_member(deps, w, offer, group_no, order_no, body, "group_buy.join")


async def _place_member(
    deps: AppDeps,
    w: Writer,
    offer: GroupBuyOffer,
    group_no: str,
    order_no: str,
    body: GroupJoin,
    action: str,
) -> JoinedPublic:
    """The member's order: one unit of the offer's SKU at the group price; refused, the seat
    goes back to the group."""
    request = PlaceOrderRequest(
        order_no=order_no,
        storefront=w.principal.name,
        api_key_id=w.principal.id,
        customer_id=body.customer_id,
        lines=[CartLine(sku_id=offer.sku_id, quantity=1)],
        address=ShippingAddress(**body.address.model_dump()),
        group=GroupLink(group_no=group_no, sku_id=offer.sku_id, price_fen=offer.group_price_fen),
    )
    client = deps.require_temporal()
    try:
        await placed(deps, request)
    except Problem as refused:
        if refused.status < 500:
            left = MemberLeft(order_no=order_no, reason="order not placed")
            group = client.get_workflow_handle(GROUP.workflow_id(group_no))
            with contextlib.suppress(RPCError):  # decided meanwhile: the seat no longer matters
                await group.signal(messages.GROUP_MEMBER_LEFT, left)
        raise
    await w.commit(action, "group_buy", group_no, {"order_no": order_no, "offer_id": offer.id})
    return JoinedPublic(
        group=await _group_detail(w.session, group_no),
        order=await order_public(w.session, order_no, unmasked=True),
    )
