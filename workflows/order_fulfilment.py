"""The fulfilment part of OrderWorkflow: one child ShipmentWorkflow per package, cancels passed
down to packages not yet handed over, reships and package refunds decided by staff, and units a
wave did not find: backordered as a new package of the same warehouse once it has them again
(tried every `backorder_retry` for `backorder_for`), or refunded (policy `cancel_line`, or the
backorder never came)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from datetime import timedelta
from typing import TYPE_CHECKING

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.inventory import InventoryActivities
    from activities.orders import OrderActivities
    from models.contracts.order import PackagePlan, RecordPackageRequest, ReservePackageRequest
    from models.contracts.shipment import ShipmentInput, ShipmentResult, WithdrawUnits
    from models.contracts.waves import PackageShort
    from models.domain.shipping import package_value
    from workflows.common import FAILED, call
    from workflows.shipment import ShipmentWorkflow

if TYPE_CHECKING:
    from workflows.order import OrderWorkflow

MAX_RESHIPS = 2


class Fulfilment:
    def __init__(self, order: OrderWorkflow) -> None:
        self._order = order
        self._children: dict[
            str, workflow.ChildWorkflowHandle[ShipmentWorkflow, ShipmentResult]
        ] = {}
        self.plans: dict[str, PackagePlan] = {}  # every package started, backorders too
        self.finished: set[str] = set()
        self._done = False

    async def run(self) -> None:
        order = self._order
        await order.record(
            "released_to_warehouses",
            status="fulfilling",
            detail={"packages": len(order.placed.packages)},
        )
        watcher = asyncio.create_task(self._pass_cancel_down())
        shorts = asyncio.create_task(self._handle_shorts(lambda: self._done))
        results = await asyncio.gather(*(self._ship(plan) for plan in order.placed.packages))
        self._done = True
        await watcher
        results += await shorts
        await self._settle(results)

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

    async def child(self, plan: PackagePlan) -> ShipmentResult:
        order = self._order
        policy = order.order_input.policy
        handle = await workflow.start_child_workflow(
            ShipmentWorkflow.run,
            ShipmentInput(
                order_no=order.placed.order_no,
                package_no=plan.package_no,
                warehouse_id=plan.warehouse_id,
                carrier_code=policy.carrier_code,
                address=order.request.address,
                lines=plan.lines,
                expected_weight_g=plan.weight_g + policy.box_tare_g,
                weight_tolerance_g=policy.weight_tolerance_g,
                weight_tolerance_pct=policy.weight_tolerance_pct,
                tracking_poll_interval=order.order_input.timings.tracking_poll_interval,
            ),
            id=f"shipment-{plan.package_no}",
        )
        self._children[plan.package_no] = handle
        self.plans[plan.package_no] = plan
        if self._order.cancel_requested:  # the cancel came before this package started
            await handle.signal(ShipmentWorkflow.cancel)
        result = await handle
        self.finished.add(plan.package_no)
        if result.outcome == "delivered":
            self._order.package_delivered(result.package_no)
        return result

    async def _replacement(self, plan: PackagePlan, attempt: int) -> PackagePlan | None:
        order_no = self._order.placed.order_no
        request = ReservePackageRequest(
            order_no=order_no,
            package_no=f"{plan.package_no}R{attempt}",
            warehouse_id=plan.warehouse_id,
            lines=self._order.current_lines(plan),
        )
        try:
            replacement = await call(InventoryActivities.reserve_package, request)
        except FAILED:
            return None
        await call(
            OrderActivities.record_package,
            RecordPackageRequest(order_no=order_no, package=replacement),
        )
        await self._order.record("reship", detail={"package_no": replacement.package_no})
        return replacement

    async def _refund_package(self, plan: PackagePlan, reason: str) -> ShipmentResult:
        order = self._order
        payment = order.payment
        lines = order.current_lines(plan)
        value = package_value(order.placed.quote.lines, lines)
        if payment is not None:
            order.package_refunded(lines)
        if payment is not None and value > 0:
            await order.refund(payment, value, f"RF{plan.package_no[2:]}", reason)
        return ShipmentResult(package_no=plan.package_no, outcome="refund")

    async def ship_replacement(self, plan: PackagePlan) -> None:
        """A package started after the order was delivered (an exchange's replacement) is one
        of the order's packages like the others: reshipped or refunded when lost, its units not
        found backordered or refunded, reachable by after-sales taking units out of it."""
        shipping = asyncio.create_task(self._ship(plan))
        await self._handle_shorts(shipping.done)
        await shipping

    async def _handle_shorts(self, done: Callable[[], bool]) -> list[ShipmentResult]:
        """Every short reported until all packages (`done`, backorders too) are done."""
        shorts = self._order.shorts
        backorders: list[asyncio.Task[ShipmentResult | None]] = []
        while True:
            await workflow.wait_condition(
                lambda: bool(shorts) or (done() and all(t.done() for t in backorders))
            )
            if not shorts:
                return [r for t in backorders if (r := t.result()) is not None]
            backorders.append(asyncio.create_task(self._backorder(shorts.pop(0))))

    async def _backorder(self, short: PackageShort) -> ShipmentResult | None:
        order = self._order
        timings = order.order_input.timings
        if order.order_input.policy.short_pick_policy == "backorder":
            request = ReservePackageRequest(
                order_no=order.placed.order_no,
                package_no=f"{short.package_no}B",
                warehouse_id=short.warehouse_id,
                lines=short.missing,
            )
            waited = timedelta(0)
            while not order.cancel_requested:
                try:
                    plan = await call(InventoryActivities.reserve_package, request)
                except FAILED:
                    if waited >= timings.backorder_for:
                        break
                    with suppress(TimeoutError):
                        await workflow.wait_condition(
                            lambda: order.cancel_requested, timeout=timings.backorder_retry
                        )
                    waited += timings.backorder_retry
                    continue
                await call(
                    OrderActivities.record_package,
                    RecordPackageRequest(order_no=order.placed.order_no, package=plan),
                )
                await order.record(
                    "backorder", detail={"package_no": plan.package_no, "of": short.package_no}
                )
                return await self.child(plan)
        if order.cancel_requested:  # the cancel refunds whatever is still paid
            return None
        payment = order.payment
        value = package_value(order.placed.quote.lines, short.missing)
        if payment is not None:
            order.package_refunded(short.missing)
        if payment is not None and value > 0:
            await order.refund(
                payment, value, f"RF{short.package_no[2:]}S", "units not found: refunded"
            )
        await order.record(
            "short_refunded",
            detail={
                "package_no": short.package_no,
                "units": sum(m.quantity for m in short.missing),
            },
        )
        return None

    async def withdraw(self, package_no: str, ask: WithdrawUnits) -> bool:
        """Ask a running package to give up units; False when it has already ended."""
        await workflow.wait_condition(
            lambda: package_no in self._children or package_no in self.finished
        )
        if package_no in self.finished:
            return False
        await self._children[package_no].signal(ShipmentWorkflow.withdraw_units, ask)
        return True

    async def _pass_cancel_down(self) -> None:
        await workflow.wait_condition(lambda: self._done or self._order.cancel_requested)
        if self._done:
            return
        for handle in self._children.values():
            await handle.signal(ShipmentWorkflow.cancel)

    async def _settle(self, results: list[ShipmentResult]) -> None:
        order = self._order
        if any(result.outcome == "delivered" for result in results):
            # A cancel that came while a package was being handed over stopped only the others:
            # those go back to stock (the shipments released them) and their value is refunded.
            plans = {plan.package_no: plan for plan in order.placed.packages}
            for result in results:
                if result.outcome == "cancelled" and result.package_no in plans:
                    await self._refund_package(
                        plans[result.package_no], "cancelled before handover: refunded"
                    )
            await order.record("delivered", status="delivered")
            return
        # Nothing reached the customer: the rest of the money (freight included) goes back.
        order.request_cancel("nothing was delivered")
        order.set_status("cancelling")
