"""Inventory activities of the order lifecycle: reserve, release, ship (DESIGN §5)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity

from activities.orders import business_error
from core.db import SessionFactory
from models.contracts.order import (
    PackageLine,
    PackagePlan,
    ReleaseRequest,
    Reservation,
    ReservePackageRequest,
    ReserveRequest,
)
from models.contracts.pricing import DemandLine
from models.contracts.shipment import ConsumeRequest, UnitsWithdrawn, WithdrawRequest
from models.db import Reservation as ReservationRow
from models.db import Sku
from models.domain.warehouse_choice import OutOfStockError
from services import flash_sales, reservations, withdrawals


def _demand(lines: Sequence[PackageLine]) -> list[DemandLine]:
    return [DemandLine(line_no=li.line_no, sku_id=li.sku_id, quantity=li.quantity) for li in lines]


class InventoryActivities:
    def __init__(self, session_factory: SessionFactory) -> None:
        self._sessions = session_factory

    @activity.defn
    async def reserve_stock(self, request: ReserveRequest) -> Reservation:
        """All lines or nothing; the answer names the short SKUs (OutOfStockError)."""
        demand = [
            DemandLine(line_no=li.line_no, sku_id=li.sku_id, quantity=li.quantity)
            for li in request.lines
        ]
        try:
            async with self._sessions() as session:
                weights: dict[int, int] | None = None  # the campaign's path: _plans reads them
                if request.flash_sale_id is not None:  # from the campaign's stock (§6.8)
                    rows = await flash_sales.reserve_claimed(session, request.order_no, demand)
                else:
                    rows, weights = await reservations.reserve_weighed(
                        session, request.order_no, request.region_code, demand
                    )
                plans = await _plans(session, rows, weights)  # in this transaction
                await session.commit()
        except OutOfStockError as exc:
            raise business_error(
                "OutOfStockError",
                str(exc),
                sku_ids=exc.sku_ids,
                shortages={str(k): v for k, v in exc.shortages.items()},
            ) from exc
        return Reservation(packages=plans)

    @activity.defn
    async def reserve_package(self, request: ReservePackageRequest) -> PackagePlan:
        """A replacement package from one warehouse, all or nothing."""
        try:
            async with self._sessions() as session:
                rows = await reservations.reserve_package(
                    session,
                    request.order_no,
                    request.package_no,
                    request.warehouse_id,
                    _demand(request.lines),
                )
                plans = await _plans(session, rows)
                await session.commit()
        except OutOfStockError as exc:
            raise business_error("OutOfStockError", str(exc), sku_ids=exc.sku_ids) from exc
        return plans[0]

    @activity.defn
    async def release_stock(self, request: ReleaseRequest) -> int:
        async with self._sessions() as session:
            if request.package_no is None:  # the whole order: a flash order's units go back
                units = await flash_sales.release_order(session, request.order_no, request.reason)
            else:
                units = await reservations.release(
                    session, request.order_no, request.reason, package_no=request.package_no
                )
            await session.commit()
        return units

    @activity.defn
    async def ship_stock(self, request: ConsumeRequest) -> int:
        """Sales out for a handed-over package: what it reserved leaves the warehouse."""
        try:
            async with self._sessions() as session:
                units = await reservations.ship(session, request.order_no, request.package_no)
                await session.commit()
        except OutOfStockError as exc:  # e.g. a batch disabled after the order was placed
            raise business_error("StockShortError", str(exc), sku_ids=exc.sku_ids) from exc
        return units

    @activity.defn
    async def withdraw_units(self, request: WithdrawRequest) -> UnitsWithdrawn:
        """Units of a package not yet picked, no longer reserved for it (a refund before
        shipment); `refused` when the package cannot give them up any more."""
        async with self._sessions() as session:
            answer = await withdrawals.withdraw(session, request)
            await session.commit()
        return answer


async def _plans(
    session: AsyncSession,
    rows: Sequence[ReservationRow],
    weights: dict[int, int] | None = None,
) -> list[PackagePlan]:
    """The packages the reservations make, weighed (`weights` per SKU when the caller has them:
    no read then)."""
    if weights is None:
        result = await session.execute(
            select(Sku.id, Sku.weight_g).where(Sku.id.in_({r.sku_id for r in rows}))
        )
        weights = {sku_id: weight for sku_id, weight in result}
    warehouse: dict[str, int] = {}
    lines: dict[str, list[PackageLine]] = defaultdict(list)
    for row in rows:
        warehouse[row.package_no] = row.warehouse_id
        lines[row.package_no].append(
            PackageLine(line_no=row.line_no, sku_id=row.sku_id, quantity=row.quantity)
        )
    return [
        PackagePlan(
            package_no=no,
            warehouse_id=warehouse[no],
            lines=lines[no],
            weight_g=sum(weights[li.sku_id] * li.quantity for li in lines[no]),
        )
        for no in sorted(lines)
    ]
