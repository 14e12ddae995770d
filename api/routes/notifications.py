"""Notifications (DESIGN §6.10): the person's bell and notification list, read/unread and done,
and the channels each role subscribes to (企业微信 / 钉钉 group robots, e-mail), with the outbox
of deliveries to them.

A person sees the notifications of kinds whose deciding permission they hold (warehouse-bound
ones within their data scope); the processes raise them (services/notifications.py) and mark
them done when the thing was acted upon. Subscriptions are reference data an admin keeps."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select, update

from api.crud import check_refs, get_or_404
from api.deps import Principal, Session, Writer, require, writer
from api.errors import Problem
from api.pagination import Paging, fetch_page
from api.routing import Routes
from api.schemas.types import BigIdParam, Id, IdParam, Text, TextParam
from models.db import (
    Notification,
    NotificationDelivery,
    NotificationSubscription,
    Role,
    Warehouse,
)
from models.domain.access import PERMISSIONS
from models.domain.notifications import CHANNELS, KINDS, Channel
from services import notifications

router = Routes(tags=["notifications"])
Me = Annotated[Principal, Depends(require("self.read"))]
MeWriting = Annotated[Writer, Depends(writer("self.read"))]
Manage = Depends(require("users.manage"))
Managing = Annotated[Writer, Depends(writer("users.manage"))]

Status = Literal["open", "done", "all"]


class NotificationPublic(BaseModel):
    id: int
    kind: str
    title: str  # the kind's name (zh_CN), as the channels carry it
    ref: str
    step: str
    order_no: str | None
    warehouse_id: int | None
    amount_fen: int | None
    detail: str
    permission: str
    created_at: datetime
    done_at: datetime | None
    read: bool


class NotificationsPage(BaseModel):
    data: list[NotificationPublic]
    count: int
    unread: int  # open and not read by the caller: the bell's figure


class Unread(BaseModel):
    unread: int


class Marked(BaseModel):
    marked: int


def _permissions(who: Principal) -> list[str]:
    return [p for p in PERMISSIONS if who.may(p)]


def _reader(who: Principal) -> int | None:
    return who.id if who.kind == "user" else None


def _staff(w: Writer) -> int:
    if w.principal.kind != "user":
        raise Problem(403, "notifications are read by staff")
    return w.principal.id


def _mine(who: Principal) -> Any:
    return notifications.visible(_permissions(who), who.warehouse_scope, who.roles)


async def _unread(session: Session, who: Principal) -> int:
    count = await session.scalar(
        select(func.count()).where(
            _mine(who), Notification.done_at.is_(None), ~notifications.is_read(_reader(who))
        )
    )
    return int(count or 0)


@router.get("/v1/notifications")
async def list_notifications(
    session: Session,
    who: Me,
    paging: Paging,
    status: Annotated[Status, Query(description="open (default), done or all")] = "open",
    kind: Annotated[TextParam | None, Query(description="only this kind")] = None,
    unread: Annotated[bool, Query(description="only those the caller has not read")] = False,
    sort: Annotated[Literal["newest", "oldest"], Query(description="by when raised")] = "newest",
) -> NotificationsPage:
    """The caller's notifications, newest first (or oldest first)."""
    read = notifications.is_read(_reader(who))
    query = select(Notification, read.label("read")).where(_mine(who))
    if status == "open":
        query = query.where(Notification.done_at.is_(None))
    elif status == "done":
        query = query.where(Notification.done_at.is_not(None))
    if kind:
        query = query.where(Notification.kind == kind)
    if unread:
        query = query.where(~read)
    if sort == "oldest":
        query = query.order_by(Notification.created_at, Notification.id)
    else:
        query = query.order_by(Notification.created_at.desc(), Notification.id.desc())
    total = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    rows = (await session.execute(query.offset(paging.skip).limit(paging.limit))).all()
    return NotificationsPage(
        data=[_public(n, bool(r)) for n, r in rows],
        count=int(total or 0),
        unread=await _unread(session, who),
    )


def _public(n: Notification, read: bool) -> NotificationPublic:
    return NotificationPublic(
        id=n.id,
        kind=n.kind,
        title=KINDS[n.kind][1] if n.kind in KINDS else n.kind,
        ref=n.ref,
        step=n.step,
        order_no=n.order_no,
        warehouse_id=n.warehouse_id,
        amount_fen=n.amount_fen,
        detail=n.detail,
        permission=n.permission,
        created_at=n.created_at,
        done_at=n.done_at,
        read=read,
    )


@router.get("/v1/notifications/unread")
async def unread_count(session: Session, who: Me) -> Unread:
    """The bell: open notifications the caller has not read."""
    return Unread(unread=await _unread(session, who))


async def _visible(session: Session, who: Principal, notification_id: int) -> Notification:
    found = await session.scalar(
        select(Notification).where(Notification.id == notification_id, _mine(who))
    )
    if found is None:
        raise Problem(404, f"no notification {notification_id}")
    return found


@router.post("/v1/notifications/{notification_id}/read")
async def mark_read(notification_id: BigIdParam, w: MeWriting) -> Marked:
    """Read by the caller (the bell stops counting it for them)."""
    user = _staff(w)
    await _visible(w.session, w.principal, notification_id)
    marked = await notifications.mark_read(w.session, user, [notification_id])
    await w.commit("notification.read", "notification", notification_id)
    return Marked(marked=marked)


@router.post("/v1/notifications/read-all")
async def mark_all_read(w: MeWriting) -> Marked:
    """Every open notification the caller sees, read."""
    user = _staff(w)
    ids = list(
        await w.session.scalars(
            select(Notification.id).where(
                _mine(w.principal),
                Notification.done_at.is_(None),
                ~notifications.is_read(user),
            )
        )
    )
    marked = await notifications.mark_read(w.session, user, ids)
    await w.commit("notification.read_all", "notification", "*", {"marked": marked})
    return Marked(marked=marked)


@router.post("/v1/notifications/{notification_id}/done")
async def mark_done(notification_id: BigIdParam, w: MeWriting) -> NotificationPublic:
    """Done by hand, for what needs no decision in houtai (a late payment refunded by itself,
    low stock a buyer has seen to). Decisions are done by their own routes."""
    user = _staff(w)
    found = await _visible(w.session, w.principal, notification_id)
    if found.done_at is None:
        await w.session.execute(
            update(Notification).where(Notification.id == found.id).values(done_at=func.now())
        )
    await notifications.mark_read(w.session, user, [found.id])
    await w.commit("notification.done", "notification", found.id)
    await w.session.refresh(found)
    return _public(found, True)


# --- subscriptions (admin) --------------------------------------------------------------------


class SubscriptionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Annotated[Text, Field(min_length=1, max_length=32)]
    channel: Channel
    target: Annotated[Text, Field(min_length=3, max_length=500)]  # webhook URL or e-mail
    secret: Annotated[Text | None, Field(max_length=200)] = None  # 钉钉 加签
    warehouse_id: Id | None = None
    active: bool = True


class SubscriptionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    active: bool


class SubscriptionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    role: str
    channel: str
    target: str
    signed: bool  # a 钉钉 secret is set (never shown)
    warehouse_id: int | None
    active: bool
    created_at: datetime
    pending: int = 0
    sent: int = 0


class SubscriptionsPage(BaseModel):
    data: list[SubscriptionPublic]
    count: int


def _check_target(body: SubscriptionIn) -> None:
    if body.channel == "email":
        if "@" not in body.target or body.target.startswith(("http://", "https://")):
            raise Problem(422, "an e-mail subscription's target is an address")
    elif not body.target.startswith(("http://", "https://")):
        raise Problem(422, "a robot subscription's target is its webhook URL")


async def _subscription_public(
    session: Session, sub: NotificationSubscription
) -> SubscriptionPublic:
    counts = dict(
        (
            await session.execute(
                select(NotificationDelivery.status, func.count())
                .where(NotificationDelivery.subscription_id == sub.id)
                .group_by(NotificationDelivery.status)
            )
        ).all()
    )
    return SubscriptionPublic(
        id=sub.id,
        role=sub.role,
        channel=sub.channel,
        target=sub.target,
        signed=bool(sub.secret),
        warehouse_id=sub.warehouse_id,
        active=sub.active,
        created_at=sub.created_at,
        pending=int(counts.get("pending", 0)),
        sent=int(counts.get("sent", 0)),
    )


@router.get("/v1/notification-subscriptions", dependencies=[Manage])
async def list_subscriptions(session: Session, paging: Paging) -> SubscriptionsPage:
    query = select(NotificationSubscription).order_by(
        NotificationSubscription.role, NotificationSubscription.channel, NotificationSubscription.id
    )
    rows, count = await fetch_page(session, query, paging)
    return SubscriptionsPage(
        data=[await _subscription_public(session, r) for r in rows], count=count
    )


@router.post("/v1/notification-subscriptions", status_code=201)
async def create_subscription(body: SubscriptionIn, w: Managing) -> SubscriptionPublic:
    """A role's channel: new notifications of kinds the role may act on go to it."""
    _check_target(body)
    await check_refs(w.session, {"role": (Role, body.role)})
    if body.warehouse_id is not None:
        await check_refs(w.session, {"warehouse_id": (Warehouse, body.warehouse_id)})
    taken = await w.session.scalar(
        select(NotificationSubscription.id).where(
            NotificationSubscription.role == body.role,
            NotificationSubscription.channel == body.channel,
            NotificationSubscription.target == body.target,
        )
    )
    if taken is not None:
        raise Problem(409, f"role {body.role} already has this {body.channel} target")
    sub = NotificationSubscription(**body.model_dump())
    if body.channel != "dingtalk":
        sub.secret = None
    w.session.add(sub)
    await w.session.flush()
    await w.commit("notification_subscription.create", "notification_subscription", sub.id,
                   {"role": body.role, "channel": body.channel})  # fmt: skip
    await w.session.refresh(sub)
    return await _subscription_public(w.session, sub)


@router.patch("/v1/notification-subscriptions/{subscription_id}")
async def update_subscription(
    subscription_id: IdParam, body: SubscriptionPatch, w: Managing
) -> SubscriptionPublic:
    sub = await get_or_404(w.session, NotificationSubscription, subscription_id, "subscription")
    sub.active = body.active
    await w.commit("notification_subscription.update", "notification_subscription", sub.id,
                   {"active": body.active})  # fmt: skip
    await w.session.refresh(sub)
    return await _subscription_public(w.session, sub)


@router.delete("/v1/notification-subscriptions/{subscription_id}", status_code=204)
async def delete_subscription(subscription_id: IdParam, w: Managing) -> None:
    sub = await get_or_404(w.session, NotificationSubscription, subscription_id, "subscription")
    await w.session.delete(sub)
    await w.commit("notification_subscription.delete", "notification_subscription", subscription_id)


@router.get("/v1/notification-channels", dependencies=[Manage])
async def channels() -> dict[str, list[str]]:
    """The channels and kinds there are (for the subscription form)."""
    return {"channels": list(CHANNELS), "kinds": list(KINDS)}
