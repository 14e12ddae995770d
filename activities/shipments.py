"""Shipment activities: package projection and timeline (services/shipments.py), tracking
numbers from pre-purchased ranges, waybills from the carrier (idempotent per package), tracking
polls."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio import activity

from activities.orders import business_error
from activities.providers import CarrierClient, ProviderError
from core.db import SessionFactory
from models.contracts.after_sale import FollowReturn
from models.contracts.order import ShippingAddress
from models.contracts.shipment import (
    ShipmentStep,
    TrackingSnapshot,
    Waybill,
    WaybillCancel,
    WaybillRequest,
)
from models.db import Carrier, TrackingAllocation, TrackingRange, Warehouse
from services import notifications, shipments
from services.timeline import statements_commit_alone


class ShipmentActivities:
    def __init__(
        self,
        session_factory: SessionFactory,
        carrier: CarrierClient,
        tracking_webhook_url: str | None,
    ) -> None:
        self._sessions = session_factory
        self._carrier = carrier
        self._webhook_url = tracking_webhook_url

    @activity.defn
    async def record_shipment_step(self, step: ShipmentStep) -> None:
        async with self._sessions() as session:
            if shipments.one_statement(step):
                await statements_commit_alone(session)
            await shipments.record_step(session, step)
            await session.commit()

    @activity.defn
    async def allocate_tracking_number(self, request: WaybillRequest) -> str | None:
        """For carriers with a pre-purchased range: one number per package, exactly once."""
        async with self._sessions() as session:  # the look: no transaction to begin
            await statements_commit_alone(session)
            carrier = await session.scalar(
                select(Carrier).where(Carrier.code == request.carrier_code)
            )
        if carrier is None:
            raise business_error("UnknownCarrierError", f"no carrier {request.carrier_code}")
        if carrier.tracking_mode != "prepurchased_range":
            return None
        async with self._sessions() as session:
            number = await _allocate(session, carrier.id, request.package_no)
            await session.commit()
            return number

    @activity.defn
    async def create_waybill(self, request: WaybillRequest) -> Waybill:
        """The carrier answers the same waybill for the same package key, so a retry after a
        timeout cannot create a second one."""
        async with self._sessions() as session:  # reads only: no transaction to begin
            await statements_commit_alone(session)
            warehouse = await session.get(Warehouse, request.warehouse_id)
            tracking = await session.get(TrackingAllocation, request.package_no)
        assert warehouse is not None
        sender = ShippingAddress(
            name=warehouse.name,
            phone="4000000000",
            region_code=warehouse.region_code,
            detail=warehouse.address or warehouse.name,
        )
        try:
            made = await self._carrier.create_waybill(
                package_no=request.package_no,
                sender=sender,
                receiver=request.address,
                weight_g=max(1, request.weight_g),
                tracking_no=tracking.tracking_no if tracking else None,
                subscribe_url=self._webhook_url,
            )
        except ProviderError as exc:
            raise business_error("WaybillRefusedError", str(exc)) from exc
        return Waybill(
            package_no=request.package_no, waybill_no=made.waybill_no, tracking_no=made.tracking_no
        )

    @activity.defn
    async def cancel_waybill(self, request: WaybillCancel) -> None:
        """Void the waybill at the carrier; one already voided is success, so a retry after a
        lost answer changes nothing. A refusal (already picked up) is a business outcome."""
        try:
            await self._carrier.cancel_waybill(request.waybill_no)
        except ProviderError as exc:
            raise business_error("WaybillCancelRefusedError", str(exc)) from exc

    @activity.defn
    async def poll_tracking(self, tracking_no: str) -> TrackingSnapshot:
        return await self._carrier.tracking(tracking_no)

    @activity.defn
    async def follow_return(self, request: FollowReturn) -> TrackingSnapshot:
        """Subscribe to the customer's return parcel (pushes name the after-sale); refused
        when we have no such carrier or the carrier knows no such parcel."""
        async with self._sessions() as session:
            known = await session.scalar(
                select(Carrier.id).where(Carrier.code == request.carrier_code)
            )
        if known is None:
            raise business_error("UnknownTrackingError", f"no carrier {request.carrier_code}")
        try:
            if self._webhook_url is not None:
                await self._carrier.subscribe(
                    tracking_no=request.tracking_no, reference=request.as_no, url=self._webhook_url
                )
            return await self._carrier.tracking(request.tracking_no)
        except ProviderError as exc:
            raise business_error(
                "UnknownTrackingError",
                f"carrier {request.carrier_code} knows no parcel {request.tracking_no}",
            ) from exc


async def _allocate(session: AsyncSession, carrier_id: int, package_no: str) -> str:
    done = await session.get(TrackingAllocation, package_no)
    if done is not None:
        return done.tracking_no
    tracking_range = await session.scalar(
        select(TrackingRange)
        .where(
            TrackingRange.carrier_id == carrier_id,
            TrackingRange.next_number <= TrackingRange.last_number,
        )
        .order_by(TrackingRange.id)
        .limit(1)
        .with_for_update()
    )
    if tracking_range is None:
        raise business_error(
            "TrackingRangeExhaustedError", f"carrier {carrier_id} has no tracking numbers left"
        )
    number = f"{tracking_range.prefix}{tracking_range.next_number:012d}"
    tracking_range.next_number += 1
    left = tracking_range.last_number - tracking_range.next_number + 1
    if left < tracking_range.low_watermark:
        activity.logger.warning(
            "tracking range running low", extra={"carrier_id": carrier_id, "left": left}
        )
        carrier = await session.get(Carrier, carrier_id)
        await notifications.raise_unless_open(  # ops buys the next range (DESIGN §6.2, §6.10)
            session,
            notifications.Notice(
                kind="low_tracking_range",
                ref=f"{carrier.code if carrier else carrier_id}:{tracking_range.prefix}",
                step="low",
                detail=f"{left} / {tracking_range.low_watermark}",
            ),
        )
    await session.execute(
        insert(TrackingAllocation).values(
            package_no=package_no, carrier_id=carrier_id, tracking_no=number
        )
    )
    return number
