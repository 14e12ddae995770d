"""An order's timeline and the refunds it owes, written by every process that touches the order
(order, shipment, after-sale, payments): one row per step, keyed so a retry writes it once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core.changes import notify
from models.contracts.order import Actor, RefundState
from models.db import OrderEvent, OrderRefund


async def add_event(
    session: AsyncSession,
    *,
    order_no: str,
    step: str,
    actor: Actor,
    key: str,
    package_no: str | None = None,
    detail: dict[str, object] | None = None,
    at: datetime | None = None,
    seq: int = 0,
    with_writes: Sequence[Any] = (),
    params: Mapping[str, object] | None = None,
) -> None:
    """One timeline row; a retried activity writes it once (the key is deterministic). The
    order (and package) is announced as changed to readers waiting on it. One statement (the
    insert as a CTE, which PostgreSQL runs whether or not it is read, and the notifications),
    one round trip: a projection write is a handful of these per workflow step.
    `with_writes`: more data-modifying CTEs (the step's UPDATE of the order or package row,
    say) run in the same statement, so a whole step can be one round trip; `params`: the named
    parameters they take."""
    row = (
        insert(OrderEvent)
        .values(
            order_no=order_no,
            package_no=package_no,
            step=step,
            seq=seq,
            actor_kind=actor.kind,
            actor_name=actor.name,
            actor_role=actor.role,
            detail=detail or {},
            idempotency_key=key,
            **({"at": at} if at is not None else {}),
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
        .cte("event")
    )
    changed = [k for k in (order_no, package_no) if k is not None]
    # readers waiting on either hear of it at commit
    await session.execute(
        select(*(notify(k) for k in changed)).add_cte(*with_writes, row), params or {}
    )


async def statements_commit_alone(session: AsyncSession) -> None:
    """Each statement of this session commits on its own (no BEGIN and COMMIT, two round trips
    fewer). Call it first, and only where the work is one statement: a step written whole by
    `add_event(..., with_writes=...)`."""
    await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def status_step(model: Any, where: Any, *, status: str, seq: int, **fields: object) -> Any:
    """The UPDATE (a CTE for `add_event`'s `with_writes`) moving a projection row (order or
    package: `status`, `status_seq`) to step `seq`'s status unless a later step is there
    already; `fields` are set whatever the order of the steps. One UPDATE of the row, as
    PostgreSQL updates a row at most once per statement."""
    if not fields:
        query = update(model).where(where, model.status_seq < seq)
        query = query.values(status=status, status_seq=seq)
    else:
        later = model.status_seq < seq
        query = update(model).where(where)
        query = query.values(
            status=case((later, status), else_=model.status),
            status_seq=func.greatest(model.status_seq, seq),
            **fields,
        )
    return query.cte(f"{model.__tablename__}_step")


async def owe_refund(session: AsyncSession, order_no: str, refund: RefundState) -> None:
    """Show a refund the order owes (pending or refused); never moves one made back."""
    values = {
        "amount_fen": refund.amount_fen,
        "status": refund.status,
        "reason": refund.reason[:500],
        "refused_reason": (refund.refused_reason or "")[:500] or None,
    }
    await session.execute(
        insert(OrderRefund)
        .values(refund_no=refund.refund_no, order_no=order_no, **values)
        .on_conflict_do_update(
            index_elements=["refund_no"], set_=values, where=OrderRefund.status != "done"
        )
    )
