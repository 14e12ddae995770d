"""工作台 figures (DESIGN §3a, issue 14): what waits on the signed-in person, in the panels their
permissions open, with today beside yesterday, and the two charts of the dashboard.

Every figure is one indexed aggregate over the projections (no page of rows is read): the
dashboard of a back office with a million orders answers as fast as one with ten. Days and hours
are Asia/Shanghai's."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Final, Literal

from fastapi import Depends
from sqlalchemy import ColumnElement, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal, Session, require
from api.errors import Problem
from api.routing import Routes
from api.schemas.common import Public
from models.db import (
    AfterSale,
    Order,
    OrderRefund,
    Package,
    Payment,
    PurchaseOrder,
    SupplierInvoice,
    Wave,
)
from models.domain.business_day import BUSINESS_TZ
from models.domain.reconciliation import business_day, business_window
from services.replenishment import below_reorder_point

router = Routes(prefix="/v1/dashboard", tags=["dashboard"])

HOURS: Final = 24
GMV_DAYS: Final = 30
PAYABLE_HORIZON: Final = timedelta(days=7)  # "due this week": today and the six days after
TO_SHIP: Final = ("paid", "fulfilling")
FLAGGED_PACKAGES: Final = ("weight_hold", "exception")


class FigurePublic(Public):
    key: str  # what it counts, e.g. "orders.today" (the console's catalogue names it)
    value: int
    previous: int | None = None  # the same figure yesterday, where the dashboard compares
    unit: Literal["count", "fen"] = "count"


class PanelPublic(Public):
    key: str  # "orders", "warehouse", "after_sales", "purchasing", "finance"
    figures: list[FigurePublic]


class SeriesPublic(Public):
    key: str  # "orders.per_hour.today", "orders.per_hour.yesterday", "orders.paid_per_day"
    labels: list[str]  # "00".."23" (hours) or ISO dates (days), business time
    values: list[int]
    unit: Literal["count", "fen"] = "count"


class DashboardPublic(Public):
    at: datetime
    day: date  # today, business time
    panels: list[PanelPublic]
    charts: list[SeriesPublic]


@dataclass(frozen=True)
class _Moment:
    now: datetime
    today: date

    @property
    def today_start(self) -> datetime:
        return business_window(self.today)[0]

    @property
    def yesterday_start(self) -> datetime:
        return self.today_start - timedelta(days=1)

    @property
    def tomorrow_start(self) -> datetime:
        return self.today_start + timedelta(days=1)


async def _count(session: AsyncSession, model: Any, *where: ColumnElement[bool] | Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def _scoped(who: Principal, column: Any) -> list[ColumnElement[bool]]:
    scope = who.warehouse_scope
    return [] if scope is None else [column.in_(sorted(scope))]


def _hour(column: Any) -> Any:
    """The hour since the epoch (Shanghai's hours start on UTC's: the offset is whole hours)."""
    return func.floor(func.extract("epoch", column) / 3600)


def _business_day_number(column: Any) -> Any:
    """Days since the epoch in business time."""
    offset = BUSINESS_TZ.utcoffset(None)
    assert offset is not None
    return func.floor((func.extract("epoch", column) + offset.total_seconds()) / 86400)


async def _orders(session: AsyncSession, at: _Moment) -> tuple[PanelPublic, list[SeriesPublic]]:
    per_hour: Select[Any] = (
        select(_hour(Order.placed_at).label("h"), func.count())
        .where(Order.placed_at >= at.yesterday_start, Order.placed_at < at.tomorrow_start)
        .group_by("h")
    )
    counted = {int(h): int(n) for h, n in (await session.execute(per_hour)).all()}
    first = int(at.yesterday_start.timestamp()) // 3600
    yesterday = [counted.get(first + i, 0) for i in range(HOURS)]
    today = [counted.get(first + HOURS + i, 0) for i in range(HOURS)]

    days_start = at.today_start - timedelta(days=GMV_DAYS - 1)
    paid_per_day: Select[Any] = (
        select(_business_day_number(Payment.paid_at).label("d"), func.sum(Payment.amount_fen))
        .where(Payment.accepted, Payment.paid_at >= days_start, Payment.paid_at < at.tomorrow_start)
        .group_by("d")
    )
    paid = {int(d): int(f) for d, f in (await session.execute(paid_per_day)).all()}
    days = [at.today - timedelta(days=GMV_DAYS - 1 - i) for i in range(GMV_DAYS)]
    epoch = date(1970, 1, 1)
    gmv = [paid.get((d - epoch).days, 0) for d in days]

    refused = select(OrderRefund.order_no).where(OrderRefund.status == "refused").distinct()
    figures = [
        FigurePublic(key="orders.today", value=sum(today), previous=sum(yesterday)),
        FigurePublic(key="orders.paid_today", value=gmv[-1], previous=gmv[-2], unit="fen"),
        FigurePublic(
            key="orders.awaiting_payment",
            value=await _count(session, Order, Order.status == "awaiting_payment"),
        ),
        FigurePublic(
            key="orders.to_ship", value=await _count(session, Order, Order.status.in_(TO_SHIP))
        ),
        FigurePublic(
            key="orders.under_review", value=await _count(session, Order, Order.under_review)
        ),
        FigurePublic(key="orders.escalated", value=await _count(session, Order, Order.escalated)),
        FigurePublic(
            key="orders.refund_refused",
            value=await _count(session, refused.subquery()),
        ),
    ]
    hours = [f"{i:02d}" for i in range(HOURS)]
    charts = [
        SeriesPublic(key="orders.per_hour.today", labels=hours, values=today),
        SeriesPublic(key="orders.per_hour.yesterday", labels=hours, values=yesterday),
        SeriesPublic(
            key="orders.paid_per_day", labels=[d.isoformat() for d in days], values=gmv, unit="fen"
        ),
    ]
    return PanelPublic(key="orders", figures=figures), charts


async def _warehouse(session: AsyncSession, who: Principal, at: _Moment) -> PanelPublic:
    figures = []
    if who.may("packages.read"):
        flagged = await _count(
            session,
            Package,
            Package.status.in_(FLAGGED_PACKAGES),
            *_scoped(who, Package.warehouse_id),
        )
        figures.append(FigurePublic(key="warehouse.flagged_packages", value=flagged))
    if who.may("waves.read"):
        escalated = await _count(
            session,
            Wave,
            Wave.escalated,
            Wave.status == "picking",
            *_scoped(who, Wave.warehouse_id),
        )
        figures.append(FigurePublic(key="warehouse.escalated_waves", value=escalated))
    if who.may("purchase.read"):
        low = (await session.execute(below_reorder_point())).all()
        visible = [row for row in low if who.can_see_warehouse(row.warehouse_id)]
        figures.append(FigurePublic(key="warehouse.low_stock", value=len(visible)))
    return PanelPublic(key="warehouse", figures=figures)


async def _after_sales(session: AsyncSession, who: Principal, at: _Moment) -> PanelPublic:
    waiting = AfterSale.status == "requested"
    return PanelPublic(
        key="after_sales",
        figures=[
            FigurePublic(
                key="after_sales.requested", value=await _count(session, AfterSale, waiting)
            ),
            FigurePublic(
                key="after_sales.overdue",
                value=await _count(session, AfterSale, waiting, AfterSale.sla_due_at < at.now),
            ),
        ],
    )


async def _purchasing(session: AsyncSession, who: Principal, at: _Moment) -> PanelPublic:
    pending = PurchaseOrder.status == "pending_approval"
    return PanelPublic(
        key="purchasing",
        figures=[
            FigurePublic(
                key="purchasing.pending_approval",
                value=await _count(session, PurchaseOrder, pending),
            ),
            FigurePublic(
                key="purchasing.escalated",
                value=await _count(session, PurchaseOrder, pending, PurchaseOrder.escalated),
            ),
        ],
    )


async def _finance(session: AsyncSession, who: Principal, at: _Moment) -> PanelPublic:
    due = (
        SupplierInvoice.status == "payable",
        SupplierInvoice.due_date <= at.today + PAYABLE_HORIZON - timedelta(days=1),
    )
    due_fen = await session.scalar(
        select(func.coalesce(func.sum(SupplierInvoice.payable_fen), 0)).where(*due)
    )
    return PanelPublic(
        key="finance",
        figures=[
            FigurePublic(
                key="finance.invoices_mismatch",
                value=await _count(session, SupplierInvoice, SupplierInvoice.status == "mismatch"),
            ),
            FigurePublic(
                key="finance.payables_due", value=await _count(session, SupplierInvoice, *due)
            ),
            FigurePublic(key="finance.payables_due_fen", value=int(due_fen or 0), unit="fen"),
        ],
    )


_Panel = Callable[[AsyncSession, Principal, _Moment], Coroutine[Any, Any, PanelPublic]]
_PANELS: Final[tuple[tuple[str, _Panel], ...]] = (
    ("aftersales.review", _after_sales),
    ("purchase.read", _purchasing),
    ("finance.read", _finance),
)


@router.get("")
async def dashboard(
    session: Session, who: Annotated[Principal, Depends(require("self.read"))]
) -> DashboardPublic:
    """The figures this person's permissions open: orders (with the charts) for order readers,
    warehouse flags, after-sales waiting (and past their SLA), POs waiting for approval,
    invoices in mismatch and payables due within the week. Staff only: keys have their own
    lists."""
    if who.kind != "user":
        raise Problem(403, "the dashboard is for staff", type_="/problems/forbidden")
    now = datetime.now(UTC)
    at = _Moment(now=now, today=business_day(now))
    panels: list[PanelPublic] = []
    charts: list[SeriesPublic] = []
    if who.may("orders.read"):
        orders, charts = await _orders(session, at)
        panels.append(orders)
    warehouse = await _warehouse(session, who, at)
    if warehouse.figures:
        panels.append(warehouse)
    for permission, build in _PANELS:
        if who.may(permission):
            panels.append(await build(session, who, at))
    return DashboardPublic(at=now, day=at.today, panels=panels, charts=charts)
