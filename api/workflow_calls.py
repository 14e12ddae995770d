"""Calling workflows from routes: Temporal's answers turned into problem+json, and the one way a
route sends an update to a process it names by number (`update(deps, ORDER, order_no, ...)`)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from temporalio.client import (
    RPCTimeoutOrCancelledError,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError, FailureError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode
from temporalio.workflow import UpdateMethodMultiParam

from api.deps import AppDeps
from api.errors import Problem
from models.contracts.errors import business_error_of

A = TypeVar("A")
T = TypeVar("T")
# How long a route waits for a workflow to answer an update before saying "busy, retry".
UPDATE_RPC_TIMEOUT = timedelta(seconds=30)


def _problem(cause: ApplicationError) -> Problem:
    """A workflow's business refusal as problem+json: status and field from the registry."""
    known = business_error_of(cause.type)
    status, field = known.status, known.field
    details: dict[str, Any] = (
        cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
    )
    error: dict[str, Any] = {"type": cause.type, **details}
    if field:
        error["field"] = field
    return Problem(
        status, cause.message, type_=f"/problems/{cause.type or 'conflict'}", errors=[error]
    )


def _already_started(exc: BaseException) -> bool:
    """A workflow refused to start a child whose id is taken: the failure reaches the client as
    a plain failure carrying the SDK's message (no application type)."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, WorkflowAlreadyStartedError) or (
            isinstance(cause, FailureError) and "already started" in cause.message.lower()
        ):
            return True
        cause = getattr(cause, "cause", None)
    return False


def _ended(message: str) -> bool:
    """Temporal's NOT_FOUND for a workflow that has ended ("workflow execution already
    completed") or was ending as the update came ("workflow update was aborted by closing
    workflow"), not for one that never was."""
    return "completed" in message or "closing workflow" in message


def update_lost(exc: BaseException) -> bool:
    """Temporal's NOT_FOUND "update <id> not found": the server admitted the update and lost it
    before the workflow accepted it (its registry dropped under load, or the workflow closing).
    It never ran, so it may be sent again; with the same update id it runs at most once."""
    return (
        isinstance(exc, RPCError)
        and exc.status == RPCStatusCode.NOT_FOUND
        and exc.message.startswith("update ")
        and exc.message.endswith(" not found")
    )


async def resent_if_lost(send: Callable[[], Awaitable[T]], *, attempts: int = 3) -> T:
    """`send()` (an update, or an Update-with-Start, with a fixed update id), sent again when
    the server lost it before the workflow took it (`update_lost`): the person's request is
    answered instead of failing on the server's loss. A workflow that closed meanwhile answers
    the resend as closed."""
    for _ in range(attempts - 1):
        try:
            return await send()
        except RPCError as exc:
            if not update_lost(exc):
                raise
    return await send()


async def answer(call: Awaitable[T], *, kind: str, ident: str) -> T:
    """Await a workflow call; business refusals become 409/422, an unknown workflow a 404."""
    try:
        return await call
    except WorkflowUpdateFailedError as exc:
        cause: BaseException | None = exc.cause
        while cause is not None and not isinstance(cause, ApplicationError):
            cause = getattr(cause, "cause", None)
        if isinstance(cause, ApplicationError):
            raise _problem(cause) from exc
        if _already_started(exc):  # a child's id taken (e.g. after-sale number reused)
            raise Problem(
                409, f"{kind} {ident}: {exc.cause}", type_="/problems/already-started"
            ) from exc
        raise
    except WorkflowQueryFailedError as exc:
        raise Problem(409, str(exc)) from exc
    except RPCTimeoutOrCancelledError as exc:
        # The update did not answer within the route's wait (a loaded server): nothing is lost,
        # the same request (same keys) can be retried and answers the same.
        raise _busy(kind, ident) from exc
    except WorkflowAlreadyStartedError as exc:  # e.g. a number reused after a database restore
        raise Problem(409, f"{kind} {ident} already has a running process") from exc
    except RPCError as exc:
        problem = _rpc_problem(exc, kind, ident)
        if problem is None:
            raise
        raise problem from exc


def _rpc_problem(exc: RPCError, kind: str, ident: str) -> Problem | None:
    """Temporal's refusal of a call as the person's answer (None: a failure of ours)."""
    if update_lost(exc):  # lost on every resend: nothing ran, the same request may retry
        return _busy(kind, ident)
    if exc.status == RPCStatusCode.NOT_FOUND and _ended(exc.message):
        # Temporal answers an update to a finished (or finishing) workflow with NOT_FOUND.
        return Problem(409, f"{kind} {ident} is closed", type_="/problems/closed")
    if exc.status == RPCStatusCode.NOT_FOUND:
        return Problem(404, f"{kind} {ident} does not exist", type_="/problems/not-found")
    if exc.status == RPCStatusCode.FAILED_PRECONDITION:  # the workflow has ended
        return Problem(409, f"{kind} {ident} is closed", type_="/problems/closed")
    if exc.status in (
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.CANCELLED,
    ):
        # No worker answered in time: nothing is lost, the same request can be retried.
        return _busy(kind, ident)
    return None


def _busy(kind: str, ident: str) -> Problem:
    return Problem(
        503,
        f"{kind} {ident}: the back office is busy, retry shortly",
        type_="/problems/busy",
        headers={"Retry-After": "5"},
    )


@dataclass(frozen=True)
class Process:
    """A kind of process a route updates: how a problem names it, and its workflow ids."""

    kind: str
    id_prefix: str

    def workflow_id(self, ident: str) -> str:
        return f"{self.id_prefix}{ident}"


ORDER = Process("order", "order-")
PACKAGE = Process("package", "shipment-")
PURCHASE_ORDER = Process("purchase order", "po-")
AFTER_SALE = Process("after-sale", "aftersale-")
SETTLEMENT = Process("invoice", "settle-")  # a PO's invoices, by PO number
TRANSFER = Process("transfer", "transfer-")


async def update(
    deps: AppDeps,
    process: Process,
    ident: str,
    method: UpdateMethodMultiParam[[Any, A], T],
    arg: A,
    *,
    update_id: str | None = None,
) -> T:
    """Send `arg` to the process's update `method` and wait for its answer (a resend with the
    same `update_id` gets the first answer); refusals become problem+json (`answer`)."""
    handle = deps.require_temporal().get_workflow_handle(process.workflow_id(ident))
    update_id = update_id or str(uuid.uuid4())  # one id for every resend: it runs at most once

    def send() -> Awaitable[T]:
        return handle.execute_update(method, arg, id=update_id, rpc_timeout=UPDATE_RPC_TIMEOUT)

    return await answer(resent_if_lost(send), kind=process.kind, ident=ident)
