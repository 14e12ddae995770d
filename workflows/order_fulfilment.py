"""The order's packages (DESIGN §6.1, §6.2): one child ShipmentWorkflow per package, cancels
passed down to packages not yet handed over, reships and package refunds decided by staff, and
units a wave did not find: backordered as a new package of the same warehouse once it has them
again (tried every `backorder_retry` for `backorder_for`), or refunded (policy `cancel_line`, or
the backorder never came). An exchange's replacement is one of these packages too.

It reads and writes the order's state (`OrderState`: plans, shipment handles, shorts, package
refunds) and asks the order for timeline steps and refunds through `OrderSteps`; the order's
status is the workflow's to change."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities
    from activities.loyalty import LoyaltyActivities
    from activities.orders import OrderActivities
    from models.contracts.loyalty import PointsRefund
    from models.contracts.order import (
        PackageLine,
        PackagePlan,
        RecordPackageRequest,
        ReservePackageRequest,
    )
    from models.contracts.shipment import ShipmentInput, ShipmentResult, WithdrawUnits
    from models.contracts.waves import PackageShort
    from models.domain.shipping import package_value
    from workflows.common import FAILED, call, patched
    from workflows.order_state import OrderState, OrderSteps
    from workflows.shipment import ShipmentWorkflow
    from workflows.visibility import START_PATCH, at_start

MAX_RESHIPS = 2
# A package the order refunds itself (lost, refused, units not found) gives back the points its
# units bore (DESIGN §6.7).
PACKAGE_POINTS_PATCH = "points-back-with-package-refund"


class Fulfilment:
    def __init__(self, state: OrderState, steps: OrderSteps) -> None:
        self._state = state
        self._steps = steps
        self._done = False  # every package placed with the order (and its reships) ended

    async def run(self) -> bool:
        """Ship every package of the order; True when at least one was delivered (then those
        a cancel stopped are refunded), False when nothing reached the customer."""
        state = self._state
        watcher = asyncio.create_task(self._pass_cancel_down())
        shorts = asyncio.create_task(self._handle_shorts(lambda: self._done))
        results = await asyncio.gather(*(self._ship(plan) for plan in state.placed.packages))
        self._done = True
        await watcher
        results += await shorts
        if not any(result.outcome == "delivered" for result in results):
            return False
        # A cancel that came while a package was being handed over stopped only the others:
        # those go back to stock (the shipments released them) and their value is refunded.
        plans = {plan.package_no: plan for plan in state.placed.packages}
        for result in results:
            if result.outcome == "cancelled" and result.package_no in plans:
                await self._refund_package(
                    plans[result.package_no], "cancelled before handover: refunded"
                )
        return True

    async def ship_replacement(self, plan: PackagePlan) -> None:
        """A package started after the order was delivered (an exchange's replacement) is one
        of the order's packages like the others: reshipped or refunded when lost, its units not
        found backordered or refunded, reachable by after-sales taking units out of it."""
        shipping = asyncio.create_task(self._ship(plan))
        await self._handle_shorts(shipping.done)
        await shipping

    async def _ship(self, plan: PackagePlan) -> ShipmentResult:
        original = plan
        result = await self.child(plan)
        for attempt in range(1, MAX_RESHIPS + 1):
            if result.outcome != "reship":
                break
            replacement = await self._replacement(original, attempt)
            if replacement is None:
                return await self._refund_package(plan, "reship impossible: out of stock")
            plan, result = replacement, await self.child(replacement)
        if result.outcome == "refund":
            return await self._refund_package(plan, "package lost or refused: refunded")
        if result.outcome == "reship":  # lost again after the last reship allowed
            return await self._refund_package(plan, f"lost after {MAX_RESHIPS} reships: refunded")
        return result

    async def child(self, plan: PackagePlan, *, listed: bool = True) -> ShipmentResult:
        """Ship one package as a child ShipmentWorkflow; `listed`: one of the order's packages
        (kept in its state). Runs from before REPLACEMENT_PATCH ship a replacement unlisted."""
        state = self._state
        policy = state.input.policy
        handle = await workflow.start_child_workflow(
            ShipmentWorkflow.run,
            ShipmentInput(
                order_no=state.placed.order_no,
                package_no=plan.package_no,
                warehouse_id=plan.warehouse_id,
                carrier_code=policy.carrier_code,
                address=state.request.address,
                lines=plan.lines,
                expected_weight_g=plan.weight_g + policy.box_tare_g,
                weight_tolerance_g=policy.weight_tolerance_g,
                weight_tolerance_pct=policy.weight_tolerance_pct,
                tracking_poll_interval=state.input.timings.tracking_poll_interval,
            ),
            id=f"shipment-{plan.package_no}",
            search_attributes=(
                at_start(  # as ShipmentWorkflow's first `show`
                    business_no=plan.package_no, status="released", warehouse=plan.warehouse_id
                )
                if patched(START_PATCH)
                else None
            ),
        )
        if listed:
            state.shipments[plan.package_no] = handle
            state.plans[plan.package_no] = plan
        if state.cancel_requested:  # the cancel came before this package started
            await handle.signal(ShipmentWorkflow.cancel)
        result = await handle
        if listed:
            state.finished.add(plan.package_no)
        if result.outcome == "delivered":
            state.package_delivered(result.package_no)
        return result

    async def _replacement(self, plan: PackagePlan, attempt: int) -> PackagePlan | None:
        order_no = self._state.placed.order_no
        request = ReservePackageRequest(
            order_no=order_no,
            package_no=f"{plan.package_no}R{attempt}",
            warehouse_id=plan.warehouse_id,
            lines=self._state.current_lines(plan),
        )
        try:
            replacement = await call(InventoryActivities.reserve_package, request)
        except FAILED:
            return None
        await call(
            OrderActivities.record_package,
            RecordPackageRequest(order_no=order_no, package=replacement),
        )
        await self._steps.record("reship", detail={"package_no": replacement.package_no})
        return replacement

    async def _refund_package(self, plan: PackagePlan, reason: str) -> ShipmentResult:
        state = self._state
        payment = state.payment
        lines = state.current_lines(plan)
        value = package_value(state.placed.quote.lines, lines)
        if payment is not None:
            state.package_refunded(lines)
        if payment is not None and value > 0:
            await self._steps.refund(payment, value, f"RF{plan.package_no[2:]}", reason)
        if payment is not None:
            await self._points_back(f"RF{plan.package_no[2:]}", lines)
        return ShipmentResult(package_no=plan.package_no, outcome="refund")

    async def _points_back(self, refund_no: str, lines: list[PackageLine]) -> None:
        """The points the refunded units bore go back with the refund (DESIGN §6.7); older runs
        gave none back."""
        if patched(PACKAGE_POINTS_PATCH):
            units: dict[int, int] = {}
            for line in lines:
                units[line.line_no] = units.get(line.line_no, 0) + line.quantity
            refund = PointsRefund(
                order_no=self._state.placed.order_no, refund_no=refund_no, units=units
            )
            await call(LoyaltyActivities.refund_points, refund)

    async def _handle_shorts(self, done: Callable[[], bool]) -> list[ShipmentResult]:
        """Every short reported until all packages (`done`, backorders too) are done."""
        shorts = self._state.shorts
        backorders: list[asyncio.Task[ShipmentResult | None]] = []
        while True:
            await workflow.wait_condition(
                lambda: bool(shorts) or (done() and all(t.done() for t in backorders))
            )
            if not shorts:
                return [r for t in backorders if (r := t.result()) is not None]
            backorders.append(asyncio.create_task(self._backorder(shorts.pop(0))))

    async def _backorder(self, short: PackageShort) -> ShipmentResult | None:
        state = self._state
        timings = state.input.timings
        if state.input.policy.short_pick_policy == "backorder":
            request = ReservePackageRequest(
                order_no=state.placed.order_no,
                package_no=f"{short.package_no}B",
                warehouse_id=short.warehouse_id,
                lines=short.missing,
            )
            waited = timedelta(0)
            while not state.cancel_requested:
                try:
                    plan = await call(InventoryActivities.reserve_package, request)
                except FAILED:
                    if waited >= timings.backorder_for:
                        break
                    with suppress(TimeoutError):
                        await workflow.wait_condition(
                            lambda: state.cancel_requested, timeout=timings.backorder_retry
                        )
                    waited += timings.backorder_retry
                    continue
                await call(
                    OrderActivities.record_package,
                    RecordPackageRequest(order_no=state.placed.order_no, package=plan),
                )
                await self._steps.record(
                    "backorder", detail={"package_no": plan.package_no, "of": short.package_no}
                )
                return await self.child(plan)
        if state.cancel_requested:  # the cancel refunds whatever is still paid
            return None
        payment = state.payment
        value = package_value(state.placed.quote.lines, short.missing)
        if payment is not None:
            state.package_refunded(short.missing)
        if payment is not None and value > 0:
            await self._steps.refund(
                payment, value, f"RF{short.package_no[2:]}S", "units not found: refunded"
            )
        if payment is not None:
            await self._points_back(f"RF{short.package_no[2:]}S", short.missing)
        await self._steps.record(
            "short_refunded",
            detail={
                "package_no": short.package_no,
                "units": sum(m.quantity for m in short.missing),
            },
        )
        return None

    async def withdraw(self, package_no: str, ask: WithdrawUnits) -> bool:
        """Ask a running package to give up units; False when it has already ended."""
        state = self._state
        await workflow.wait_condition(
            lambda: package_no in state.shipments or package_no in state.finished
        )
        if package_no in state.finished:
            return False
        await state.shipments[package_no].signal(ShipmentWorkflow.withdraw_units, ask)
        return True

    async def _pass_cancel_down(self) -> None:
        state = self._state
        await workflow.wait_condition(lambda: self._done or state.cancel_requested)
        if self._done:
            return
        for handle in state.shipments.values():
            await handle.signal(ShipmentWorkflow.cancel)
