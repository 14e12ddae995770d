"""The after-sale part of OrderWorkflow (DESIGN §6.3): an order, once delivered and until its
after-sale window closes, opens after-sales as child workflows (`aftersale-AS…`).

Each request is checked against what was bought minus what earlier after-sales took (those not
rejected or withdrawn) and priced from the stored allocations (`models.domain.refunds`), capped
by what is still refundable on the order — counting the amounts of after-sales still open, so
that racing requests can never together refund more than was paid. The check runs again in the
handler: two requests accepted in one workflow task are decided one after the other, the second
against what the first took. The order closes only once every after-sale has ended."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from temporalio import workflow
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.after_sales import AfterSaleActivities
    from activities.inventory import InventoryActivities
    from activities.orders import OrderActivities
    from models.contracts import messages
    from models.contracts.after_sale import (
        OPEN_STATUSES,
        AfterSaleInput,
        AfterSaleRequest,
        AfterSaleSettled,
        AfterSaleStep,
        AfterSaleView,
        ExchangeRequested,
        ReplacementReady,
    )
    from models.contracts.order import (
        PackageLine,
        PackagePlan,
        RecordPackageRequest,
        ReservePackageRequest,
    )
    from models.contracts.shipment import UnitsWithdrawn, WithdrawUnits
    from models.domain.refunds import (
        LineHistory,
        RefundError,
        RefundQuote,
        RefundRequestLine,
        quote_refund,
    )
    from workflows.after_sale import AfterSaleWorkflow
    from workflows.common import FAILED, call
    from workflows.order_fulfilment import Fulfilment

if TYPE_CHECKING:
    from workflows.order import OrderWorkflow


@dataclass
class _Claim:
    quote: RefundQuote
    status: str = "requested"

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def takes_units(self) -> bool:
        """Rejected, withdrawn or closed: nothing taken; exchanged: the customer holds the
        replacement units, which may come back in a later after-sale."""
        return self.status not in ("rejected", "withdrawn", "closed", "exchanged")


# The order writes a new after-sale's first step itself before answering 201 (DESIGN §6:
# read-your-writes); older histories answered once the child was started.
RECORDED_PATCH = "after-sale-recorded-before-answer"
OPEN_FOR_AFTER_SALES = ("delivered", "completed")
BEFORE_SHIPMENT = ("paid", "fulfilling")  # refund-only: units not yet picked are taken out
NOT_DELIVERED = "not delivered yet (before shipment only a refund-only request can be made)"


class AfterSales:
    def __init__(self, order: OrderWorkflow) -> None:
        self._order = order
        self._claims: dict[str, _Claim] = {}
        self._replacements: list[asyncio.Task[None]] = []
        self._answers: dict[tuple[str, str], UnitsWithdrawn] = {}
        self.window_closed = False

    @property
    def open(self) -> int:
        return sum(1 for claim in self._claims.values() if claim.open)

    def check(self, request: AfterSaleRequest) -> RefundQuote:
        """The amounts of the request, or an ApplicationError saying why it is refused."""
        if self.before_shipment(request):
            self._check_not_shipped(request)
        else:
            status = self._order.status
            if self.window_closed or status not in OPEN_FOR_AFTER_SALES:
                closed = self.window_closed or status == "closed"
                why = "its after-sale window has closed" if closed else NOT_DELIVERED
                raise ApplicationError(f"order is {status}: {why}", type="InvalidStateError")
        if request.as_no in self._claims:
            raise ApplicationError(f"{request.as_no} exists", type="InvalidStateError")
        return self._quote(request.lines)

    def before_shipment(self, request: AfterSaleRequest) -> bool:
        return request.type == "refund_only" and self._order.status in BEFORE_SHIPMENT

    def _quote(self, lines: Sequence[RefundRequestLine]) -> RefundQuote:
        placed = self._order.placed
        try:
            return quote_refund(placed.quote, lines, self._history(), self._committed_fen())
        except RefundError as exc:
            raise ApplicationError(str(exc), type="AfterSaleQuantityError") from exc

    async def open_one(self, request: AfterSaleRequest) -> AfterSaleView:
        quote = self.check(request)  # again: an earlier request may have taken the units
        taken_from: list[str] = []
        if self.before_shipment(request):
            self._claims[request.as_no] = _Claim(quote=quote)  # holds the units meanwhile
            lines, taken_from = await self._take_out(request)
            if not lines:
                del self._claims[request.as_no]
                raise ApplicationError(
                    "nothing could be taken out of its packages: "
                    + "; ".join(self._refusals(request.as_no)),
                    type="InvalidStateError",
                )
            del self._claims[request.as_no]
            quote = self._quote(lines)
        self._claims[request.as_no] = _Claim(quote=quote)
        order = self._order
        payment = order.payment
        assert payment is not None  # delivered orders are paid
        child = AfterSaleInput(
            as_no=request.as_no,
            order_no=order.placed.order_no,
            type=request.type,
            lines=[RefundRequestLine(line_no=x.line_no, quantity=x.quantity) for x in quote.lines],
            reason=request.reason,
            evidence_urls=request.evidence_urls,
            requested_by=request.actor,
            quote=quote,
            payment=payment,
            approval_sla=order.order_input.timings.after_sale_approval_sla,
            return_window=order.order_input.timings.after_sale_return_window,
            tracking_poll_interval=order.order_input.timings.tracking_poll_interval,
            return_warehouse_id=self._shipped_from(request),
            before_shipment=bool(taken_from),
            taken_from=taken_from,
            replacements=request.replacements,
        )
        sla_due_at = None if taken_from else workflow.now() + child.approval_sla
        if workflow.patched(RECORDED_PATCH):
            await self._record_opened(child, sla_due_at)
            child = child.model_copy(update={"recorded": True})
        try:
            await workflow.start_child_workflow(
                AfterSaleWorkflow.run, child, id=f"aftersale-{request.as_no}"
            )
        except WorkflowAlreadyStartedError as exc:
            if not workflow.patched("after-sale-id-taken-refused"):
                raise
            # The number is taken (a restored sequence): nothing was opened. Units not taken out
            # of packages are free again; units taken out stay claimed (they left the packages).
            if not taken_from:
                del self._claims[request.as_no]
            raise ApplicationError(
                f"after-sale {request.as_no} already exists", type="AfterSaleExistsError"
            ) from exc
        return AfterSaleView(
            as_no=request.as_no,
            order_no=child.order_no,
            type=request.type,
            status="requested",
            refund_fen=quote.total_fen,
            sla_due_at=sla_due_at,
            lines=[RefundRequestLine(line_no=x.line_no, quantity=x.quantity) for x in quote.lines],
        )

    async def _record_opened(self, child: AfterSaleInput, sla_due_at: datetime | None) -> None:
        """The after-sale's first step, written before the 201 answer (read-your-writes: it can
        be read and decided at once). The child (told `recorded`) goes on from it."""
        await call(
            AfterSaleActivities.record_after_sale_step,
            AfterSaleStep(
                as_no=child.as_no,
                order_no=child.order_no,
                status="requested",
                step="requested",
                seq=1,
                at=workflow.now(),
                actor=child.requested_by,
                detail={"type": child.type, "refund_fen": child.quote.total_fen},
                opened=child,
                sla_due_at=sla_due_at,
            ),
        )

    # --- refund-only before shipment ----------------------------------------------------------

    def _check_not_shipped(self, request: AfterSaleRequest) -> None:
        order = self._order
        if order.placed.under_review and order.status == "paid":
            raise ApplicationError(
                "order is paid and awaits its risk review: cancel it instead",
                type="InvalidStateError",
            )
        open_units = self._units_not_shipped()
        for line in request.lines:
            if line.quantity > open_units.get(line.line_no, 0):
                raise ApplicationError(
                    f"line {line.line_no}: {open_units.get(line.line_no, 0)} units not yet "
                    f"shipped, {line.quantity} asked; the rest can be refunded once delivered",
                    type="AfterSaleQuantityError",
                )

    def _open_packages(self) -> list[PackagePlan]:
        """Packages not handed over, with their lines as they are now."""
        order = self._order
        fulfilment = order.fulfilment
        plans = list(fulfilment.plans.values()) if fulfilment else list(order.placed.packages)
        gone = fulfilment.finished if fulfilment else set()
        shipped = {p.package_no for p in order.packages_handed_over()}
        return [
            plan.model_copy(update={"lines": order.current_lines(plan)})
            for plan in sorted(plans, key=lambda p: p.package_no)
            if plan.package_no not in gone and plan.package_no not in shipped
        ]

    def _units_not_shipped(self) -> dict[int, int]:
        units: dict[int, int] = {}
        for plan in self._open_packages():
            for line in plan.lines:
                units[line.line_no] = units.get(line.line_no, 0) + line.quantity
        return units

    async def _take_out(
        self, request: AfterSaleRequest
    ) -> tuple[list[RefundRequestLine], list[str]]:
        """Ask each package holding the units to give them up; what they gave up."""
        asks: dict[str, list[PackageLine]] = {}
        wanted = {line.line_no: line.quantity for line in request.lines}
        for plan in self._open_packages():
            for line in plan.lines:
                take = min(wanted.get(line.line_no, 0), line.quantity)
                if take:
                    wanted[line.line_no] -= take
                    asks.setdefault(plan.package_no, []).append(
                        line.model_copy(update={"quantity": take})
                    )
        fulfilment = self._order.fulfilment
        assert fulfilment is not None or not asks
        asked = [
            package_no
            for package_no, lines in asks.items()
            if fulfilment is not None
            and await fulfilment.withdraw(
                package_no, WithdrawUnits(as_no=request.as_no, lines=lines)
            )
        ]
        await workflow.wait_condition(
            lambda: all((request.as_no, p) in self._answers for p in asked)
        )
        taken: dict[int, int] = {}
        for package_no in asked:
            answer = self._answers[(request.as_no, package_no)]
            for line in answer.withdrawn:
                taken[line.line_no] = taken.get(line.line_no, 0) + line.quantity
        lines = [RefundRequestLine(line_no=no, quantity=q) for no, q in sorted(taken.items())]
        return lines, [p for p in asked if self._answers[(request.as_no, p)].withdrawn]

    def withdrawn(self, answer: UnitsWithdrawn) -> None:
        self._answers[(answer.as_no, answer.package_no)] = answer
        if answer.withdrawn:
            self._order.withdrawn.setdefault(answer.package_no, []).extend(answer.withdrawn)

    def _refusals(self, as_no: str) -> list[str]:
        found = [a.refused for (no, _), a in self._answers.items() if no == as_no and a.refused]
        return found or ["its packages are already picked or handed over"]

    def _shipped_from(self, request: AfterSaleRequest) -> int:
        """The warehouse the first requested line went out from: the goods come back there."""
        line_no = request.lines[0].line_no
        plans = self._order.placed.packages
        return next(
            (p.warehouse_id for p in plans if any(x.line_no == line_no for x in p.lines)),
            plans[0].warehouse_id,
        )

    def exchange(self, requested: ExchangeRequested) -> None:
        """Ship the replacement through the normal shipment path, in the background."""
        self._replacements.append(asyncio.create_task(self._replace(requested)))

    async def _replace(self, requested: ExchangeRequested) -> None:
        order = self._order
        child = workflow.get_external_workflow_handle(f"aftersale-{requested.as_no}")
        request = ReservePackageRequest(
            order_no=order.placed.order_no,
            package_no=f"PK{requested.as_no[2:]}X",
            warehouse_id=requested.warehouse_id,
            lines=requested.lines,
        )
        try:
            plan = await call(InventoryActivities.reserve_package, request)
        except FAILED:
            await child.signal(messages.REPLACEMENT_READY, ReplacementReady(package_no=None))
            return
        await call(
            OrderActivities.record_package,
            RecordPackageRequest(order_no=order.placed.order_no, package=plan),
        )
        await order.record(
            "exchange_package", detail={"package_no": plan.package_no, "as_no": requested.as_no}
        )
        shipping = asyncio.create_task(Fulfilment(order).child(plan))
        await child.signal(messages.REPLACEMENT_READY, ReplacementReady(package_no=plan.package_no))
        await shipping

    def settled(self, settled: AfterSaleSettled) -> None:
        claim = self._claims.get(settled.as_no)
        if claim is None or not claim.open:
            return
        claim.status = settled.status
        if settled.refunded_fen:
            self._order.after_sale_refunded(settled.refunded_fen)

    async def wait_all(self) -> None:
        """The window is closed: no new request; the open ones finish first."""
        self.window_closed = True
        await workflow.wait_condition(
            lambda: self.open == 0 and all(t.done() for t in self._replacements)
        )

    def _history(self) -> list[LineHistory]:
        """Units and fen per line of every after-sale not rejected or withdrawn, and of the
        order's own package refunds (lost, short or cancelled packages)."""
        taken: dict[int, tuple[int, int]] = dict(self._order.package_refunds)
        for claim in self._claims.values():
            if not claim.takes_units:
                continue  # rejected or withdrawn: its units are free again
            for line in claim.quote.lines:
                units, fen = taken.get(line.line_no, (0, 0))
                taken[line.line_no] = (units + line.quantity, fen + line.amount_fen)
        return [
            LineHistory(line_no=no, refunded_quantity=units, refunded_fen=fen)
            for no, (units, fen) in sorted(taken.items())
        ]

    def _committed_fen(self) -> int:
        """Refunded on the order so far plus what open after-sales will refund."""
        pending = sum(c.quote.total_fen for c in self._claims.values() if c.open)
        return self._order.refunded_on_payment + pending
