"""Notifications on the database side (DESIGN §6.10).

`raise_notice` is called by the process's own projection write, in its transaction: the
notification row (once per (kind, business number, step)) and one outbox row per active
subscription of a role that may act on it. `resolve` marks a kind's open notifications of a
business number done when the process moved on. The outbox side (`claim_due`, `record_attempt`)
is used by the sender (activities/notify_outbox.py); reads are for the API."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.db import (
    Notification,
    NotificationDelivery,
    NotificationRead,
    NotificationSubscription,
    RolePermission,
)
from models.domain.access import PERMISSIONS
from models.domain.notifications import KINDS, message_id, notification_key, permission_of


@dataclass(frozen=True)
class Notice:
    kind: str
    ref: str
    step: str = "raised"
    detail: str = ""
    warehouse_id: int | None = None
    order_no: str | None = None
    amount_fen: int | None = None
    roles: tuple[str, ...] | None = None  # only these of the roles granting the permission


def _row(notice: Notice) -> dict[str, Any]:
    if notice.kind not in KINDS:
        raise ValueError(f"unknown notification kind {notice.kind}")
    return {
        "key": notification_key(notice.kind, notice.ref, notice.step),
        "kind": notice.kind,
        "ref": notice.ref[:64],
        "step": notice.step[:40],
        "permission": permission_of(notice.kind),
        "warehouse_id": notice.warehouse_id,
        "order_no": notice.order_no,
        "amount_fen": notice.amount_fen,
        "detail": notice.detail[:500],
        "roles": sorted(notice.roles) if notice.roles is not None else None,
    }


async def raise_notice(session: AsyncSession, notice: Notice) -> int | None:
    """The notification and its outbox rows, once: a retried step finds the key taken and
    writes nothing. Returns the new notification's id (None when it was raised before)."""
    row = _row(notice)
    new_id = await session.scalar(
        insert(Notification)
        .values(**row)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(Notification.id)
    )
    if new_id is None:
        return None
    await _fan_out(
        session, int(new_id), row["key"], row["permission"], notice.warehouse_id, row["roles"]
    )
    return int(new_id)


async def raise_many(session: AsyncSession, notices: Sequence[Notice]) -> int:
    """raise_notice for many in one statement (and one subscription look-up per permission and
    warehouse). Returns how many were new."""
    if not notices:
        return 0
    rows = list({r["key"]: r for r in map(_row, notices)}.values())
    new = (
        await session.execute(
            insert(Notification)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(
                Notification.id,
                Notification.key,
                Notification.permission,
                Notification.warehouse_id,
                Notification.roles,
            )
        )
    ).all()
    for new_id, key, permission, warehouse_id, roles in new:
        await _fan_out(session, int(new_id), key, permission, warehouse_id, roles)
    return len(new)


async def _fan_out(
    session: AsyncSession,
    new_id: int,
    key: str,
    permission: str,
    warehouse_id: int | None,
    roles: list[str] | None,
) -> None:
    """One outbox row per active subscription of a role that may act on it."""
    only = NotificationSubscription.role.in_(roles) if roles is not None else true()
    subscriptions = (
        await session.execute(
            select(NotificationSubscription.id, NotificationSubscription.channel).where(
                NotificationSubscription.active.is_(True),
                _role_may(permission),
                only,
                or_(
                    NotificationSubscription.warehouse_id.is_(None),
                    NotificationSubscription.warehouse_id == warehouse_id,
                ),
            )
        )
    ).all()
    if subscriptions:
        await session.execute(
            insert(NotificationDelivery)
            .values(
                [
                    {
                        "notification_id": new_id,
                        "subscription_id": sub_id,
                        "channel": channel,
                        "message_id": message_id(key, sub_id),
                        "status": "pending",
                        "last_error": "",
                    }
                    for sub_id, channel in subscriptions
                ]
            )
            .on_conflict_do_nothing()
        )


def _role_may(permission: str) -> Any:
    """A subscription's role grants the permission: a built-in preset or a composed role."""
    built_in = sorted(PERMISSIONS.get(permission, frozenset()))
    composed = select(RolePermission.role).where(RolePermission.permission == permission)
    return or_(
        NotificationSubscription.role.in_(built_in), NotificationSubscription.role.in_(composed)
    )


async def raise_unless_open(session: AsyncSession, notice: Notice) -> int | None:
    """For conditions that hold a while (low stock, a low range): a new notification only when
    none of the kind is open for the business number; its step is the occurrence's number."""
    earlier = (
        await session.execute(
            select(func.count(), func.count().filter(Notification.done_at.is_(None))).where(
                Notification.kind == notice.kind, Notification.ref == notice.ref
            )
        )
    ).one()
    if earlier[1]:
        return None
    return await raise_notice(session, replace(notice, step=f"{notice.step}-{earlier[0] + 1}"))


async def resolve(
    session: AsyncSession,
    kind: str | Sequence[str],
    ref: str,
    at: datetime | None = None,
    *,
    steps: Iterable[str] = (),
) -> int:
    """The kind's (or kinds') open notifications of `ref` are done (the process moved on).
    Returns how many. `steps`: only those steps (else all)."""
    result = await session.execute(resolving(kind, ref, at, steps=steps))
    return int(getattr(result, "rowcount", 0) or 0)


def resolving(
    kind: str | Sequence[str], ref: str, at: datetime | None = None, *, steps: Iterable[str] = ()
) -> Any:
    """`resolve`'s UPDATE, to run as a CTE of a step's one statement."""
    kinds = [kind] if isinstance(kind, str) else list(kind)
    query = update(Notification).where(
        Notification.kind.in_(kinds) if len(kinds) > 1 else Notification.kind == kinds[0],
        Notification.ref == ref,
        Notification.done_at.is_(None),
    )
    wanted = list(steps)
    if wanted:
        query = query.where(Notification.step.in_(wanted))
    return query.values(done_at=at or func.now())


async def resolve_except(session: AsyncSession, kind: str, refs_still: set[str], scope: Any) -> int:
    """The kind's open notifications within `scope` whose ref is no longer in `refs_still`."""
    query = update(Notification).where(
        Notification.kind == kind, Notification.done_at.is_(None), scope
    )
    if refs_still:
        query = query.where(Notification.ref.not_in(sorted(refs_still)))
    result = await session.execute(query.values(done_at=func.now()))
    return int(getattr(result, "rowcount", 0) or 0)


# --- reading (the API) ------------------------------------------------------------------------


def visible(
    permissions: Iterable[str], warehouse_scope: frozenset[int] | None, roles: Iterable[str]
) -> Any:
    """What a person sees: kinds whose permission they hold (and, where a notification names
    roles, one of those), warehouse-bound ones in scope."""
    condition: Any = and_(
        Notification.permission.in_(sorted(set(permissions))),
        or_(Notification.roles.is_(None), Notification.roles.overlap(sorted(set(roles)))),
    )
    if warehouse_scope is not None:
        condition = and_(
            condition,
            or_(
                Notification.warehouse_id.is_(None),
                Notification.warehouse_id.in_(sorted(warehouse_scope)),
            ),
        )
    return condition


def is_read(user_id: int | None) -> Any:
    return exists().where(
        NotificationRead.notification_id == Notification.id,
        NotificationRead.user_id == (user_id if user_id is not None else -1),
    )


async def mark_read(session: AsyncSession, user_id: int, ids: Sequence[int]) -> int:
    if not ids:
        return 0
    result = await session.execute(
        insert(NotificationRead)
        .values([{"notification_id": i, "user_id": user_id} for i in ids])
        .on_conflict_do_nothing()
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- the outbox (the sender) ------------------------------------------------------------------


@dataclass(frozen=True)
class Due:
    delivery_id: int
    message_id: str
    channel: str
    target: str
    secret: str | None
    attempts: int
    kind: str
    step: str
    ref: str
    detail: str
    amount_fen: int | None
    order_no: str | None


async def any_due(session: AsyncSession, now: datetime) -> bool:
    """Whether a pending delivery's time has come: the idle sender's one cheap look (no lock,
    no transaction needed) before `claim_due`."""
    return bool(
        await session.scalar(
            select(
                exists().where(
                    NotificationDelivery.status == "pending",
                    NotificationDelivery.next_attempt_at <= now,
                )
            )
        )
    )


async def claim_due(session: AsyncSession, now: datetime, limit: int) -> list[Due]:
    """Pending deliveries whose time has come, locked for this transaction (SKIP LOCKED: two
    senders never take the same one). The caller sends, records, and commits."""
    rows = (
        await session.execute(
            select(NotificationDelivery, NotificationSubscription, Notification)
            .join(
                NotificationSubscription,
                NotificationSubscription.id == NotificationDelivery.subscription_id,
            )
            .join(Notification, Notification.id == NotificationDelivery.notification_id)
            .where(
                NotificationDelivery.status == "pending",
                NotificationDelivery.next_attempt_at <= now,
            )
            .order_by(NotificationDelivery.next_attempt_at, NotificationDelivery.id)
            .limit(limit)
            .with_for_update(of=NotificationDelivery, skip_locked=True)
        )
    ).all()
    return [
        Due(
            delivery_id=d.id,
            message_id=d.message_id,
            channel=d.channel,
            target=s.target,
            secret=s.secret,
            attempts=d.attempts,
            kind=n.kind,
            step=n.step,
            ref=n.ref,
            detail=n.detail,
            amount_fen=n.amount_fen,
            order_no=n.order_no,
        )
        for d, s, n in rows
    ]


async def record_attempt(
    session: AsyncSession,
    delivery_id: int,
    *,
    now: datetime,
    error: str | None,
    retry_in: timedelta,
) -> None:
    """The attempt and its outcome in one statement: sent (never again), or the error and the
    next try. In the transaction that claimed the row."""
    values: dict[str, Any] = {"attempts": NotificationDelivery.attempts + 1}
    if error is None:
        values |= {"status": "sent", "sent_at": now, "last_error": ""}
    else:
        values |= {"last_error": error[:500], "next_attempt_at": now + retry_in}
    await session.execute(
        update(NotificationDelivery)
        .where(NotificationDelivery.id == delivery_id, NotificationDelivery.status == "pending")
        .values(**values)
    )


async def pending_count(session: AsyncSession) -> int:
    return int(
        await session.scalar(select(func.count()).where(NotificationDelivery.status == "pending"))
        or 0
    )
