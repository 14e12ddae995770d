"""The person's inbox (待办, issue 14): everything waiting on a decision the caller's roles may
take, across the processes — PO approvals (the tiers they hold and nobody has approved yet),
risky orders to review, packages held at the scale, lost/refused packages to decide, after-sales
to decide, refunds the provider refused to retry, invoices in mismatch, open reconciliation
differences, escalated waves — oldest first, each with when it started waiting and, where a rule
sets one, when its SLA runs out.

Each kind is included only when the caller may act on it (the permission of the route that
decides it; warehouse-bound kinds within their data scope). Reads projections only; acting goes
through each item's own route, so an item disappears once that route has answered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, Literal, cast, get_args

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import Select, and_, false, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import AppDeps, Deps, Principal, Session, require
from api.pagination import Paging
from api.routing import Routes
from models.db import (
    AfterSale,
    Order,
    OrderEvent,
    OrderRefund,
    Package,
    PurchaseOrder,
    ReconciliationDifference,
    SupplierInvoice,
    Wave,
)
from services.purchasing import awaiting_approval_since

router = Routes(tags=["inbox"])

InboxKind = Literal[
    "po_approval",
    "risk_review",
    "weight_hold",
    "parcel_exception",
    "after_sale_decision",
    "refund_retry",
    "invoice_mismatch",
    "reconciliation_difference",
    "escalated_wave",
]
KINDS: tuple[InboxKind, ...] = get_args(InboxKind)


class InboxItem(BaseModel):
    kind: InboxKind
    ref: str  # what the action names: PO…, SO…, PK…, AS…, the invoice's PO, a difference id, WV…
    order_no: str | None = None  # the order it belongs to, where there is one
    since: datetime  # waiting since
    due_at: datetime | None = None  # when its SLA runs out (None: no rule sets one)
    amount_fen: int | None = None
    detail: str = ""  # the hold reason, the provider's refusal, the mismatch, ...
    warehouse_id: int | None = None
    roles: list[str] = []  # po_approval: the required roles still open that the caller holds
    po_no: str | None = None  # invoice_mismatch: the PO the invoice was booked on
    day: date | None = None  # reconciliation_difference: the business day to run again
    action: str  # the route that decides it (POST)
    permission: str  # the permission that route needs


class InboxPage(BaseModel):
    data: list[InboxItem]
    count: int
    counts: dict[str, int]  # per kind the caller may act on (kinds they may not are absent)


@dataclass(frozen=True)
class _Source:
    kind: InboxKind
    permission: str
    query: Callable[[Principal, AppDeps], Select[Any]]  # rows, oldest first
    item: Callable[[Any, AppDeps], InboxItem]
    whole_row: bool = False  # the query selects several columns (else one entity)


def _in_scope(column: Any, who: Principal) -> Any:
    scope = who.warehouse_scope
    return column.in_(sorted(scope)) if scope is not None else True


# --- PO approvals ---------------------------------------------------------------------------


def _po_query(who: Principal, deps: AppDeps) -> Select[Any]:
    # Required roles the caller holds that have not approved yet (approvals is {role: user}).
    open_mine = [
        and_(
            PurchaseOrder.required_roles.contains([role]),
            ~PurchaseOrder.approvals.has_key(role),
        )
        for role in sorted(who.roles)
    ]
    since = awaiting_approval_since()
    held = literal(",".join(sorted(who.roles)))  # the caller's roles, for the item's `roles`
    query = select(PurchaseOrder, since.label("since"), held.label("held")).where(
        PurchaseOrder.status == "pending_approval"
    )
    mine = or_(*open_mine) if open_mine else false()
    return cast(Select[Any], query.where(mine).order_by(since, PurchaseOrder.po_no))


def _po_item(row: Any, deps: AppDeps) -> InboxItem:
    po, since, held = row
    still_open = set(po.required_roles) - set(po.approvals)
    return InboxItem(
        kind="po_approval",
        ref=po.po_no,
        since=since,
        due_at=since + deps.po_timings.approval_sla,
        amount_fen=po.amount_fen,
        detail=" / ".join(sorted(still_open)),
        roles=sorted(still_open & set(held.split(","))),
        action=f"/v1/purchase-orders/{po.po_no}/approve",
        permission="purchase.approve",
    )


# --- orders and packages --------------------------------------------------------------------


def _review_query(who: Principal, deps: AppDeps) -> Select[Any]:
    return (
        select(Order).where(Order.under_review.is_(True)).order_by(Order.placed_at, Order.order_no)
    )


def _review_item(order: Any, deps: AppDeps) -> InboxItem:
    return InboxItem(
        kind="risk_review",
        ref=order.order_no,
        order_no=order.order_no,
        since=order.placed_at,
        due_at=order.placed_at + deps.order_timings.risk_review_sla,
        amount_fen=order.payable_fen,
        detail="escalated" if order.escalated else "",
        action=f"/v1/orders/{order.order_no}/risk-review",
        permission="orders.review",
    )


def _package_query(status: str) -> Callable[[Principal, AppDeps], Select[Any]]:
    def query(who: Principal, deps: AppDeps) -> Select[Any]:
        query = (
            select(Package)
            .where(Package.status == status, _in_scope(Package.warehouse_id, who))
            .order_by(Package.updated_at, Package.package_no)
        )
        if status == "exception":  # decided (reship/refund) stays "exception" until carried out
            last = func.coalesce(_last_package_step(), "")
            query = query.where(~last.startswith("decided_"))
        return query

    return query


def _last_package_step() -> Any:
    return (
        select(OrderEvent.step)
        .where(
            OrderEvent.order_no == Package.order_no,
            OrderEvent.package_no == Package.package_no,
        )
        .order_by(OrderEvent.at.desc(), OrderEvent.seq.desc(), OrderEvent.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _package_item(kind: InboxKind, action: str, permission: str) -> Callable[..., InboxItem]:
    def item(package: Any, deps: AppDeps) -> InboxItem:
        return InboxItem(
            kind=kind,
            ref=package.package_no,
            order_no=package.order_no,
            since=package.updated_at,
            detail=package.hold_reason or "",
            warehouse_id=package.warehouse_id,
            action=f"/v1/packages/{package.package_no}/{action}",
            permission=permission,
        )

    return item


# --- after-sales and refunds ----------------------------------------------------------------


def _decision_query(who: Principal, deps: AppDeps) -> Select[Any]:
    return (
        select(AfterSale)
        .where(AfterSale.status == "requested")
        .order_by(AfterSale.requested_at, AfterSale.as_no)
    )


def _decision_item(row: Any, deps: AppDeps) -> InboxItem:
    return InboxItem(
        kind="after_sale_decision",
        ref=row.as_no,
        order_no=row.order_no,
        since=row.requested_at,
        due_at=row.sla_due_at,
        amount_fen=row.refund_fen,
        detail=row.reason,
        action=f"/v1/after-sales/{row.as_no}/decision",
        permission="aftersales.decide",
    )


def _last_after_sale_step() -> Any:
    """The after-sale's latest step in its order's timeline."""
    return (
        select(OrderEvent.step)
        .where(
            OrderEvent.order_no == AfterSale.order_no,
            OrderEvent.detail["as_no"].astext == AfterSale.as_no,
        )
        .order_by(OrderEvent.at.desc(), OrderEvent.seq.desc(), OrderEvent.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def _refused_after_sales(who: Principal, deps: AppDeps) -> Select[Any]:
    return (
        select(AfterSale)
        .where(
            AfterSale.status == "refunding",
            _last_after_sale_step() == "after_sale_refund_refused",
        )
        .order_by(AfterSale.last_progress_at, AfterSale.as_no)
    )


def _refused_after_sale_item(row: Any, deps: AppDeps) -> InboxItem:
    return InboxItem(
        kind="refund_retry",
        ref=row.as_no,
        order_no=row.order_no,
        since=row.last_progress_at,
        amount_fen=row.refund_fen,
        action=f"/v1/after-sales/{row.as_no}/retry-refund",
        permission="aftersales.decide",
    )


def _refused_order_refunds(who: Principal, deps: AppDeps) -> Select[Any]:
    # One row per order (its retry tries every refused refund of the order); after-sales'
    # own refunds (RFAS…) are retried on the after-sale.
    query = (
        select(
            OrderRefund.order_no,
            func.min(OrderRefund.updated_at).label("since"),
            func.sum(OrderRefund.amount_fen).label("amount_fen"),
            func.max(OrderRefund.refused_reason).label("refused_reason"),
        )
        .where(OrderRefund.status == "refused", ~OrderRefund.refund_no.startswith("RFAS"))
        .group_by(OrderRefund.order_no)
        .order_by(func.min(OrderRefund.updated_at), OrderRefund.order_no)
    )
    return cast(Select[Any], query)


def _refused_order_item(row: Any, deps: AppDeps) -> InboxItem:
    return InboxItem(
        kind="refund_retry",
        ref=row.order_no,
        order_no=row.order_no,
        since=row.since,
        amount_fen=int(row.amount_fen),
        detail=row.refused_reason or "",
        action=f"/v1/orders/{row.order_no}/retry-refund",
        permission="finance.reconcile",
    )


# --- finance --------------------------------------------------------------------------------


def _invoice_query(who: Principal, deps: AppDeps) -> Select[Any]:
    return (
        select(SupplierInvoice)
        .where(SupplierInvoice.status == "mismatch")
        .order_by(SupplierInvoice.created_at, SupplierInvoice.po_no)
    )


def _invoice_item(row: Any, deps: AppDeps) -> InboxItem:
    return InboxItem(
        kind="invoice_mismatch",
        ref=row.invoice_no,
        since=row.created_at,
        amount_fen=row.invoiced_fen - row.expected_fen,
        po_no=row.po_no,
        detail=f"{row.po_no}: {row.invoiced_fen} / {row.expected_fen}",
        action=f"/v1/purchase-orders/{row.po_no}/invoices/{row.invoice_no}/decision",
        permission="purchase.settle",
    )


def _difference_query(who: Principal, deps: AppDeps) -> Select[Any]:
    d = ReconciliationDifference
    return select(d).where(d.resolved.is_(False)).order_by(d.created_at, d.id)


def _difference_item(row: Any, deps: AppDeps) -> InboxItem:
    amount = (row.provider_amount_fen or 0) - (row.ledger_amount_fen or 0)
    return InboxItem(
        kind="reconciliation_difference",
        ref=str(row.id),
        order_no=row.order_no or None,
        since=row.created_at,
        amount_fen=amount,
        day=row.day,
        detail=f"{row.kind}: {row.detail}",
        # A run of the day again resolves what the provider's statement no longer differs on.
        action="/v1/finance/reconciliation/run",
        permission="finance.reconcile",
    )


# --- waves ----------------------------------------------------------------------------------


def _wave_query(who: Principal, deps: AppDeps) -> Select[Any]:
    return (
        select(Wave)
        .where(
            Wave.escalated.is_(True),
            Wave.status == "picking",
            _in_scope(Wave.warehouse_id, who),
        )
        .order_by(Wave.cutoff_at, Wave.wave_no)
    )


def _wave_item(row: Any, deps: AppDeps) -> InboxItem:
    return InboxItem(
        kind="escalated_wave",
        ref=row.wave_no,
        since=row.created_at,
        due_at=row.cutoff_at,
        detail=row.escalation_reason or "",
        warehouse_id=row.warehouse_id,
        action=f"/v1/warehouses/{row.warehouse_id}/waves/plan",
        permission="waves.plan",
    )


SOURCES: tuple[_Source, ...] = (
    _Source("po_approval", "purchase.approve", _po_query, _po_item, whole_row=True),
    _Source("risk_review", "orders.review", _review_query, _review_item),
    _Source(
        "weight_hold",
        "packages.override",
        _package_query("weight_hold"),
        _package_item("weight_hold", "override-weight", "packages.override"),
    ),
    _Source(
        "parcel_exception",
        "packages.decide",
        _package_query("exception"),
        _package_item("parcel_exception", "exception-decision", "packages.decide"),
    ),
    _Source("after_sale_decision", "aftersales.decide", _decision_query, _decision_item),
    _Source("refund_retry", "aftersales.decide", _refused_after_sales, _refused_after_sale_item),
    _Source(
        "refund_retry",
        "finance.reconcile",
        _refused_order_refunds,
        _refused_order_item,
        whole_row=True,
    ),
    _Source("invoice_mismatch", "purchase.settle", _invoice_query, _invoice_item),
    _Source("reconciliation_difference", "finance.reconcile", _difference_query, _difference_item),
    _Source("escalated_wave", "waves.plan", _wave_query, _wave_item),
)


MAX_DEPTH = 5_000  # rows listed per kind at most (the counts stay exact beyond)


async def _rows(
    session: AsyncSession, query: Select[Any], limit: int, whole_row: bool
) -> tuple[list[Any], int]:
    count = await session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    if limit <= 0:
        return [], int(count or 0)
    result = (await session.execute(query.limit(limit))).all()
    return (list(result) if whole_row else [r[0] for r in result]), int(count or 0)


@router.get("/v1/inbox")
async def inbox(
    session: Session,
    deps: Deps,
    who: Annotated[Principal, Depends(require("self.read"))],
    paging: Paging,
    kind: Annotated[InboxKind | None, Query(description="only this kind")] = None,
) -> InboxPage:
    """What waits on the caller, oldest first. `counts` has every kind they may act on; pages
    reach the first 5,000 items of each kind."""
    items: list[InboxItem] = []
    counts: dict[str, int] = {}
    wanted = paging.skip + paging.limit  # the page's rows are among each kind's first `wanted`
    for source in SOURCES:
        if not who.may(source.permission):
            continue
        listed = kind is None or source.kind == kind
        depth = min(wanted, MAX_DEPTH) if listed else 0
        rows, count = await _rows(session, source.query(who, deps), depth, source.whole_row)
        counts[source.kind] = counts.get(source.kind, 0) + count
        items.extend(source.item(row, deps) for row in rows)
    items.sort(key=lambda x: (x.since, x.kind, x.ref))
    total = sum(counts.values()) if kind is None else counts.get(kind, 0)
    page = items[paging.skip : wanted]
    return InboxPage(data=page, count=total, counts=counts)
