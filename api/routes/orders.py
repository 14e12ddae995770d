"""Order routes: the storefront places, pays, cancels and confirms; staff read, review, cancel.

Placing is Update-with-Start on OrderWorkflow, so the answer is the priced, reserved order."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from datetime import date, datetime, timedelta
from functools import partial
from typing import Annotated, Literal

from fastapi import Depends, Query, Request, Response
from sqlalchemy import exists, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from api.deps import (
    AppDeps,
    Deps,
    Principal,
    Session,
    VisibleOrder,
    Writer,
    actor_of,
    require,
    visible_order,
    writer,
)
from api.errors import Problem, conflict, invalid
from api.order_views import contact_of, order_public, require_known_customer, unknown_customer
from api.pagination import Paging, fetch_page
from api.routing import Routes
from api.schemas.orders import (
    CancelIn,
    ContactPublic,
    OrderCreate,
    OrderPublic,
    OrdersPublic,
    OrderSummary,
    PaymentPublic,
    RetryRefundIn,
    ReviewIn,
)
from api.schemas.types import BigIdParam, IdParam, Instant, NoParam, TextParam
from api.watching import WATCHABLE, watched
from api.workflow_calls import ORDER, UPDATE_RPC_TIMEOUT, answer, resent_if_lost, update
from models.contracts.after_sale import RefundRetry
from models.contracts.order import (
    CancelRequest,
    ConfirmReceipt,
    OrderInput,
    PaymentRequest,
    PlacedOrder,
    PlaceOrderRequest,
    RiskDecision,
    ShippingAddress,
)
from models.contracts.pricing import CartLine
from models.db import Order, OrderLine, OrderRefund, Package
from models.domain.business_day import BUSINESS_TZ
from services import flash_gate, flash_sales
from services.order_numbers import order_number
from workflows.late_payment import LatePaymentRefundWorkflow, late_payment_id
from workflows.order import OrderWorkflow
from workflows.visibility import at_start

router = Routes(prefix="/v1/orders", tags=["orders"])
log = logging.getLogger(__name__)
DESCRIBE_TIMEOUT = timedelta(seconds=10)
REVEALED = ["name", "phone", "detail"]  # what a reveal shows; the audit row names these only
Reader = Annotated[Principal, Depends(require("orders.read"))]
OrderSort = Literal["-placed_at", "placed_at", "-payable_fen", "payable_fen"]


def sends_contact(who: Principal) -> bool:
    """The storefront sent its customer's contact and sees it whole; staff see it masked."""
    return "storefront" in who.roles


async def delivered_packages(session: AsyncSession, order_no: str) -> list[str]:
    """The order's packages its view shows delivered (the order may not have heard yet)."""
    found = await session.scalars(
        select(Package.package_no).where(
            Package.order_no == order_no, Package.status == "delivered"
        )
    )
    numbers = list(found)
    await session.commit()  # never hold a connection while waiting for the workflow
    return numbers


DEADLOCK_DETECTED = "40P01"  # PostgreSQL's SQLSTATE
FLASH_REFUSALS = {
    "not_open": "flash sale {id} is not open for SKU {sku}",
    "sold_out": "flash sale {id} is sold out",
    "over_limit": "flash sale {id}: customer {customer} is over the per-customer limit",
}


async def pass_flash_gate(w: Writer, body: OrderCreate, today: date) -> str:
    """The flash sale's gate (DESIGN §6.8). First a look at the committed figures (one read, no
    write, no lock: services/flash_gate.py `look`), which also tells whether the customer is
    known: a buyer it can already refuse is answered 409 at once, without waiting behind the
    buyers being accepted. Then one conditional statement claims the units and numbers the
    order in this transaction, or refuses (409), rolled back: no order, no workflow. The same
    key again finds its order."""
    assert body.flash_sale_id is not None
    [line, *others] = body.lines
    seen = await flash_gate.look(
        w.session,
        flash_sale_id=body.flash_sale_id,
        api_key_id=w.principal.id,
        client_key=body.client_order_key,
        customer_id=body.customer_id,
        sku_id=line.sku_id,
        quantity=line.quantity,
        # A refusal's audit row is written by the look itself (one statement); a request
        # answered 422 for its lines first gets the audit middleware's row instead.
        refusal_audit=None if others else w.refusal_row(409),
    )
    if not seen.known:
        raise unknown_customer(body.customer_id)
    if others:
        raise invalid(
            "lines", "a flash sale order has exactly one line, the sale's SKU", "flash_sale_lines"
        )
    if seen.refusal is not None:  # nothing was written but the refusal's audit row
        assert seen.audited, "the look writes a known customer's refusal row"
        raise await w.committed_refusal(flash_refused(seen.refusal, body, line.sku_id))
    claim = partial(
        flash_gate.claim,
        flash_sale_id=body.flash_sale_id,
        api_key_id=w.principal.id,
        client_key=body.client_order_key,
        today=today,
        customer_id=body.customer_id,
        sku_id=line.sku_id,
        quantity=line.quantity,
    )
    try:
        found = await claim(w.session)
    except DBAPIError as exc:
        # The lane claims the sale's row before the storefront's key, this gate the key first:
        # the same key sent at once through both can deadlock, and PostgreSQL fails one side.
        # Failed here, the gate runs once more and finds what the lane committed (`already`).
        if getattr(exc.orig, "sqlstate", None) != DEADLOCK_DETECTED:
            raise
        await w.session.rollback()
        found = await claim(w.session)
    if found.order_no is not None:
        return found.order_no
    await w.session.rollback()
    if found.answer == "already":  # the same key again (or concurrently): its order
        return await order_number(
            w.session, api_key_id=w.principal.id, client_key=body.client_order_key, today=today
        )
    raise flash_refused(found.answer, body, line.sku_id)


CLAIM_STATE = "flash_lane_claim"  # the request's state: the lane's claim (api/flash_lane.py)


def lane_claim(w: Writer, body: OrderCreate) -> flash_gate.LaneClaim | None:
    """The claim the flash lane committed for this very request (api/flash_lane.py: the key,
    the customer and the body's one line passed its look and its gate in one statement), if
    it made one for this key's principal and this body's sale and storefront key."""
    found = getattr(w.request.state, CLAIM_STATE, None)
    if not isinstance(found, flash_gate.LaneClaim):
        return None
    if (found.api_key_id, found.flash_sale_id, found.client_key, found.customer_id) != (
        w.principal.id,
        body.flash_sale_id,
        body.client_order_key,
        body.customer_id,
    ) or w.principal.kind != "api_key":
        return None  # (never so) the gate then finds the key's number, or the sweep frees it
    return found


def flash_refused(answer: str, body: OrderCreate, sku_id: int) -> Problem:
    detail = FLASH_REFUSALS[answer].format(
        id=body.flash_sale_id, sku=sku_id, customer=body.customer_id
    )
    return conflict(detail, reason=answer, flash_sale_id=body.flash_sale_id)


async def give_back_unstarted_claim(deps: AppDeps, order_no: str) -> None:
    """The gate's claim is committed before the order's workflow starts (so no buyer waits on
    it): if that start failed and no workflow has the order's id, the claimed units go back to
    the campaign instead of staying held for an order that does not exist. A started order
    gives them back itself if it refuses; when Temporal cannot say now, the worker's hand-off
    sweep (workers/handoffs.py) asks again later and gives the claim back then."""
    handle = deps.require_temporal().get_workflow_handle(f"order-{order_no}")
    try:
        await handle.describe(rpc_timeout=DESCRIBE_TIMEOUT)
        return
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            return
    except Exception:  # Temporal cannot say (e.g. the call timed out): the sweep will
        return
    async with deps.session_factory() as session:
        if await flash_sales.release_unstarted(session, order_no):
            await session.commit()
            log.warning(
                "flash claim given back: its order never started", extra={"order_no": order_no}
            )


_GIVING_BACK: set[asyncio.Task[None]] = set()  # strong references while they run


async def settle_unstarted_claim(deps: AppDeps, order_no: str) -> None:
    """`give_back_unstarted_claim` in a task of its own, which the request's cancellation (the
    client went away, the server is stopping) cannot cut off half way."""
    task = asyncio.get_running_loop().create_task(give_back_unstarted_claim(deps, order_no))
    _GIVING_BACK.add(task)
    task.add_done_callback(_GIVING_BACK.discard)
    await asyncio.shield(task)


@router.post("", status_code=201)
async def place_order(
    body: OrderCreate, deps: Deps, w: Annotated[Writer, Depends(writer("orders.create"))]
) -> OrderPublic:
    today = datetime.now(BUSINESS_TZ).date()
    if body.presale_id is not None and (body.flash_sale_id is not None or len(body.lines) != 1):
        raise invalid(
            "lines",
            "a presale order has one line, the presale's SKU, no flash sale",
            "presale_lines",
        )
    if (claimed := lane_claim(w, body)) is not None:  # the lane's gate claimed it already
        order_no = claimed.order_no
    elif body.flash_sale_id is not None:  # the gate's look also knows the customer: one read
        order_no = await pass_flash_gate(w, body, today)
    else:
        await require_known_customer(w.session, w.principal.id, body.customer_id)
        order_no = await order_number(
            w.session, api_key_id=w.principal.id, client_key=body.client_order_key, today=today
        )
    try:
        await w.session.commit()  # never hold a connection while waiting for the workflow
        await start_order(deps, w, body, order_no)
    except BaseException:  # also a cancelled request: a committed claim must not stay orphaned
        if body.flash_sale_id is not None:
            await settle_unstarted_claim(deps, order_no)
        raise
    await w.commit("order.place", "order", order_no, {"lines": len(body.lines)})
    return await order_public(w.session, order_no, unmasked=sends_contact(w.principal))


async def start_order(deps: AppDeps, w: Writer, body: OrderCreate, order_no: str) -> None:
    """The order's workflow, started with its placement (Update-with-Start)."""
    request = PlaceOrderRequest(
        order_no=order_no,
        storefront=w.principal.name,
        api_key_id=w.principal.id,
        customer_id=body.customer_id,
        coupon_code=body.coupon_code,
        points=body.points,
        lines=[CartLine(sku_id=li.sku_id, quantity=li.quantity) for li in body.lines],
        address=ShippingAddress(**body.address.model_dump()),
        flash_sale_id=body.flash_sale_id,
        presale_id=body.presale_id,
    )
    await placed(deps, request)


async def placed(deps: AppDeps, request: PlaceOrderRequest) -> PlacedOrder:
    """The order's workflow started with its placement (Update-with-Start), sent again if the
    server lost it; the workflow's refusals as problem+json. Orders and group-buy members."""
    order_no = request.order_no

    def send() -> Awaitable[PlacedOrder]:
        start = WithStartWorkflowOperation(  # an operation is used once: a resend makes its own
            OrderWorkflow.run,
            OrderInput(order_no=order_no, timings=deps.order_timings, policy=deps.order_policy),
            id=f"order-{order_no}",
            task_queue=deps.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            # as the workflow's first `show` (OrderState's status and escalation): no upsert
            search_attributes=at_start(business_no=order_no, status="placing", escalated=False),
        )
        return deps.require_temporal().execute_update_with_start_workflow(
            OrderWorkflow.place,
            request,
            start_workflow_operation=start,
            id=f"place-{order_no}",
            rpc_timeout=UPDATE_RPC_TIMEOUT,
        )

    return await answer(resent_if_lost(send), kind="order", ident=order_no)


@router.get("")
async def list_orders(
    session: Session,
    paging: Paging,
    who: Reader,
    status: TextParam | None = None,
    customer_id: BigIdParam | None = None,
    sku_id: IdParam | None = None,
    warehouse_id: IdParam | None = None,
    escalated: bool | None = None,
    refund_refused: Annotated[
        bool | None, Query(description="only orders with a refund the provider refused")
    ] = None,
    placed_from: Instant | None = None,
    placed_until: Annotated[Instant | None, Query()] = None,
    sort: Annotated[
        OrderSort, Query(description="column to sort by; a leading `-` sorts descending")
    ] = "-placed_at",
) -> OrdersPublic:
    by = Order.payable_fen if sort.endswith("payable_fen") else Order.placed_at
    # Ties go the same way as the column, so one index scan gives the page (ix_orders_payable).
    order = (by.desc(), Order.order_no.desc()) if sort.startswith("-") else (by, Order.order_no)
    query = select(Order).order_by(*order)
    if "storefront" in who.roles:
        query = query.where(Order.api_key_id == who.id)
    for column, value in (
        (Order.status, status),
        (Order.customer_id, customer_id),
        (Order.escalated, escalated),
    ):
        if value is not None:
            query = query.where(column == value)
    if placed_from is not None:
        query = query.where(Order.placed_at >= placed_from)
    if placed_until is not None:
        query = query.where(Order.placed_at < placed_until)
    if refund_refused is not None:
        refused = exists().where(
            OrderRefund.order_no == Order.order_no, OrderRefund.status == "refused"
        )
        query = query.where(refused if refund_refused else ~refused)
    if sku_id is not None:
        query = query.where(
            exists().where(OrderLine.order_no == Order.order_no, OrderLine.sku_id == sku_id)
        )
    if warehouse_id is not None:
        query = query.where(
            exists().where(Package.order_no == Order.order_no, Package.warehouse_id == warehouse_id)
        )
    rows, count = await fetch_page(session, query, paging)
    return OrdersPublic(data=[OrderSummary.model_validate(r) for r in rows], count=count)


@router.get("/{order_no}", response_model=OrderPublic, responses=WATCHABLE)
async def get_order(
    order_no: NoParam,
    request: Request,
    response: Response,
    session: Session,
    who: Reader,
    deps: Deps,
) -> OrderPublic | Response:
    """May wait for the order to change: `If-None-Match` (its last ETag) with `Prefer: wait=N`.
    An order the caller may not see is 404 (as `VisibleOrder`), told by the view's own read."""
    return await watched(
        request,
        response,
        session,
        deps.changes,
        order_no,
        lambda: order_public(session, order_no, unmasked=sends_contact(who), visible_to=who),
    )


@router.post("/{order_no}/payments", status_code=201)
async def request_payment(
    order_no: NoParam,
    deps: Deps,
    w: Annotated[Writer, Depends(writer("orders.pay"))],
    _: VisibleOrder,
) -> PaymentPublic:
    payment = PaymentRequest(actor=actor_of(w.principal))
    session = await update(deps, ORDER, order_no, OrderWorkflow.request_payment, payment)
    await w.commit("order.payment_requested", "order", order_no)
    return PaymentPublic.model_validate(session.model_dump())


@router.post("/{order_no}/cancel")
async def cancel_order(
    order_no: NoParam,
    body: CancelIn,
    deps: Deps,
    w: Annotated[Writer, Depends(writer("orders.cancel"))],
) -> OrderPublic:
    await visible_order(w.session, w.principal, order_no)
    await update(
        deps,
        ORDER,
        order_no,
        OrderWorkflow.cancel,
        CancelRequest(actor=actor_of(w.principal), reason=body.reason),
    )
    await w.commit("order.cancel", "order", order_no, {"reason": body.reason})
    return await order_public(w.session, order_no, unmasked=sends_contact(w.principal))


@router.post("/{order_no}/retry-refund")
async def retry_refund(
    order_no: NoParam,
    body: RetryRefundIn,
    deps: Deps,
    w: Annotated[Writer, Depends(writer("finance.reconcile"))],
) -> OrderPublic:
    """Refunds of the order the provider refused, tried again (409 when none is refused)."""
    await visible_order(w.session, w.principal, order_no)
    retry = RefundRetry(actor=actor_of(w.principal), reason=body.reason)
    try:
        await update(deps, ORDER, order_no, OrderWorkflow.retry_refund, retry)
    except Problem as exc:
        if exc.type != "/problems/closed":
            raise
        await retry_late_payments(deps, w.session, order_no, retry)
    await w.commit("order.retry_refund", "order", order_no, body.model_dump())
    return await order_public(w.session, order_no)


async def retry_late_payments(
    deps: AppDeps, session: AsyncSession, order_no: str, retry: RefundRetry
) -> None:
    """The order's process has ended: its refused refunds are late payments' (RF-<tx>)."""
    refused = list(
        await session.scalars(
            select(OrderRefund.refund_no).where(
                OrderRefund.order_no == order_no,
                OrderRefund.status == "refused",
                OrderRefund.refund_no.startswith("RF-"),
            )
        )
    )
    await session.commit()  # never hold a connection while waiting for the workflow
    if not refused:
        raise Problem(409, f"order {order_no}: no refund is refused by the provider")
    client = deps.require_temporal()
    for refund_no in refused:
        handle = client.get_workflow_handle(late_payment_id(refund_no.removeprefix("RF-")))
        await answer(
            handle.execute_update(
                LatePaymentRefundWorkflow.retry_refund, retry, rpc_timeout=UPDATE_RPC_TIMEOUT
            ),
            kind="late payment",
            ident=refund_no,
        )


@router.post("/{order_no}/risk-review")
async def review_order(
    order_no: NoParam,
    body: ReviewIn,
    deps: Deps,
    w: Annotated[Writer, Depends(writer("orders.review"))],
) -> OrderPublic:
    await visible_order(w.session, w.principal, order_no)
    await update(
        deps,
        ORDER,
        order_no,
        OrderWorkflow.review,
        RiskDecision(actor=actor_of(w.principal), approve=body.approve, reason=body.reason),
    )
    await w.commit("order.risk_review", "order", order_no, body.model_dump())
    return await order_public(w.session, order_no, unmasked=sends_contact(w.principal))


@router.post("/{order_no}/confirm-receipt")
async def confirm_receipt(
    order_no: NoParam,
    deps: Deps,
    w: Annotated[Writer, Depends(writer("orders.confirm"))],
    order: VisibleOrder,
) -> OrderPublic:
    shown = await delivered_packages(w.session, order_no) if order.status == "fulfilling" else []
    request = ConfirmReceipt(actor=actor_of(w.principal), delivered_packages=shown)
    await update(deps, ORDER, order_no, OrderWorkflow.confirm_receipt, request)
    await w.commit("order.confirm_receipt", "order", order_no)
    return await order_public(w.session, order_no, unmasked=sends_contact(w.principal))


@router.post("/{order_no}/reveal")
async def reveal_contact(
    order_no: NoParam, w: Annotated[Writer, Depends(writer("pii.read"))], order: VisibleOrder
) -> ContactPublic:
    """The order's contact unmasked; the audit log records who saw which fields (not what)."""
    contact = contact_of(order, masked=False)
    await w.commit("order.reveal_contact", "order", order_no, {"fields": REVEALED})
    return contact
