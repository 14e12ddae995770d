"""The order's after-sales (DESIGN §6.3): an order, once delivered and until its after-sale
window closes, opens after-sales as child workflows (`aftersale-AS…`); before shipment, and
while an exchange's replacement has not shipped, a refund-only request takes its units out of the
packages instead. An exchange's replacement is reserved here and shipped as one of the order's
packages (workflows/order_fulfilment.py).

Each request is checked against what was bought minus what earlier after-sales took (those not
rejected or withdrawn) and priced from the stored allocations (`OrderState.quote`, from
`models.domain.refunds`), capped by what is still refundable on the order — counting the amounts
of after-sales still open, so that racing requests can never together refund more than was paid.
The check runs again in the handler: two requests accepted in one workflow task are decided one
after the other, the second against what the first took. The order closes only once every
after-sale has ended."""

from __future__ import annotations

import asyncio
from datetime import datetime

from temporalio import workflow
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError

with workflow.unsafe.imports_passed_through():
    from activities.after_sales import AfterSaleActivities
    from activities.inventory import InventoryActivities
    from activities.orders import OrderActivities
    from models.contracts import messages
    from models.contracts.after_sale import (
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
        PaymentReceived,
        RecordPackageRequest,
        ReservePackageRequest,
    )
    from models.contracts.shipment import UnitsWithdrawn, WithdrawUnits
    from models.domain.refunds import RefundInputError, RefundRequestLine, split_across_payments
    from workflows.after_sale import AfterSaleWorkflow
    from workflows.common import FAILED, call, deprecate_patch, patched
    from workflows.order_fulfilment import Fulfilment
    from workflows.order_state import Claim, OrderState, OrderSteps

# The order writes a new after-sale's first step itself before answering 201 (DESIGN §6:
# read-your-writes); older histories answered once the child was started.
RECORDED_PATCH = "after-sale-recorded-before-answer"
# An exchange's replacement ships as one of the order's packages (reships, refunds, shorts,
# units taken out before it ships); older runs started it on its own and only waited for it.
REPLACEMENT_PATCH = "replacement-is-an-order-package"


class AfterSales:
    def __init__(self, state: OrderState, steps: OrderSteps, packages: Fulfilment) -> None:
        self._state = state
        self._steps = steps
        self._packages = packages

    async def open_one(self, request: AfterSaleRequest) -> AfterSaleView:
        state = self._state
        claims = state.claims
        quote = state.check_after_sale(request)  # again: an earlier request may have taken them
        taken_from: list[str] = []
        if state.before_shipment(request):
            claims[request.as_no] = Claim(quote=quote)  # holds the units meanwhile
            lines, taken_from = await self._take_out(request)
            if not lines:
                del claims[request.as_no]
                raise ApplicationError(
                    "nothing could be taken out of its packages: "
                    + "; ".join(state.refusals(request.as_no)),
                    type="InvalidStateError",
                )
            del claims[request.as_no]
            quote = state.quote(lines)
        payment = state.payment
        assert payment is not None  # delivered orders are paid
        balance, on_balance = self._presale_split(request.as_no, quote.total_fen)
        claims[request.as_no] = Claim(quote=quote, on_balance_fen=on_balance)
        timings = state.input.timings
        child = AfterSaleInput(
            as_no=request.as_no,
            order_no=state.placed.order_no,
            type=request.type,
            lines=[RefundRequestLine(line_no=x.line_no, quantity=x.quantity) for x in quote.lines],
            reason=request.reason,
            evidence_urls=request.evidence_urls,
            requested_by=request.actor,
            quote=quote,
            payment=payment,
            balance=balance,
            on_balance_fen=on_balance,
            approval_sla=timings.after_sale_approval_sla,
            return_window=timings.after_sale_return_window,
            tracking_poll_interval=timings.tracking_poll_interval,
            return_warehouse_id=state.shipped_from(request),
            before_shipment=bool(taken_from),
            taken_from=taken_from,
            replacements=request.replacements,
        )
        sla_due_at = None if taken_from else workflow.now() + child.approval_sla
        deprecate_patch(RECORDED_PATCH)  # retired: recorded before the answer
        await self._record_opened(child, sla_due_at)
        child = child.model_copy(update={"recorded": True})
        try:
            await workflow.start_child_workflow(
                AfterSaleWorkflow.run, child, id=f"aftersale-{request.as_no}"
            )
        except WorkflowAlreadyStartedError as exc:
            deprecate_patch("after-sale-id-taken-refused")  # retired: always refused
            # The number is taken (a restored sequence): nothing was opened. Units not taken out
            # of packages are free again; units taken out stay claimed (they left the packages).
            if not taken_from:
                del claims[request.as_no]
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

    async def _take_out(
        self, request: AfterSaleRequest
    ) -> tuple[list[RefundRequestLine], list[str]]:
        """Ask each package holding the units to give them up; what they gave up."""
        state = self._state
        asks: dict[str, list[PackageLine]] = {}
        wanted = {line.line_no: line.quantity for line in request.lines}
        for plan in state.open_packages():
            for line in plan.lines:
                take = min(wanted.get(line.line_no, 0), line.quantity)
                if take:
                    wanted[line.line_no] -= take
                    asks.setdefault(plan.package_no, []).append(
                        line.model_copy(update={"quantity": take})
                    )
        assert state.shipping or not asks
        asked = [
            package_no
            for package_no, lines in asks.items()
            if state.shipping
            and await self._packages.withdraw(
                package_no, WithdrawUnits(as_no=request.as_no, lines=lines)
            )
        ]
        answers = state.answers
        await workflow.wait_condition(lambda: all((request.as_no, p) in answers for p in asked))
        taken: dict[int, int] = {}
        for package_no in asked:
            answer = answers[(request.as_no, package_no)]
            for line in answer.withdrawn:
                taken[line.line_no] = taken.get(line.line_no, 0) + line.quantity
        lines = [RefundRequestLine(line_no=no, quantity=q) for no, q in sorted(taken.items())]
        return lines, [p for p in asked if answers[(request.as_no, p)].withdrawn]

    def withdrawn(self, answer: UnitsWithdrawn) -> None:
        """A package's answer to `_take_out`."""
        state = self._state
        state.answers[(answer.as_no, answer.package_no)] = answer
        if answer.withdrawn:
            state.withdrawn.setdefault(answer.package_no, []).extend(answer.withdrawn)

    # --- exchanges --------------------------------------------------------------------------

    def exchange(self, requested: ExchangeRequested) -> None:
        """Ship the replacement through the normal shipment path, in the background."""
        self._state.replacements.append(asyncio.create_task(self._replace(requested)))

    async def _replace(self, requested: ExchangeRequested) -> None:
        order_no = self._state.placed.order_no
        child = workflow.get_external_workflow_handle(f"aftersale-{requested.as_no}")
        request = ReservePackageRequest(
            order_no=order_no,
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
            RecordPackageRequest(order_no=order_no, package=plan),
        )
        await self._steps.record(
            "exchange_package", detail={"package_no": plan.package_no, "as_no": requested.as_no}
        )
        shipping: asyncio.Task[object]
        if patched(REPLACEMENT_PATCH):
            shipping = asyncio.create_task(self._packages.ship_replacement(plan))
        else:
            shipping = asyncio.create_task(self._packages.child(plan, listed=False))
        await child.signal(messages.REPLACEMENT_READY, ReplacementReady(package_no=plan.package_no))
        await shipping

    # --- how they end -------------------------------------------------------------------------

    def _presale_split(self, as_no: str, total_fen: int) -> tuple[PaymentReceived | None, int]:
        """A presale's order whose balance is paid: its balance payment and the part of the
        after-sale's refund that goes on it (balance first, then the deposit; neither more than
        is left of what it paid). Other orders: (None, 0), all on the order's payment."""
        state = self._state
        if state.balance is None or not state.after_sales_across_payments:
            return None, 0
        assert state.payment is not None
        balance_left = max(0, state.balance.amount_fen - state.balance_allotted(as_no))
        deposit_left = max(0, state.payment.amount_fen - state.refunded_on_payment - sum(
            c.quote.total_fen - c.on_balance_fen
            for no, c in state.claims.items() if c.open and no != as_no
        ))  # fmt: skip
        try:
            return state.balance, split_across_payments(total_fen, balance_left, deposit_left)
        except RefundInputError as exc:
            raise ApplicationError(str(exc), type="AfterSaleQuantityError") from exc

    def settled(self, settled: AfterSaleSettled) -> None:
        state = self._state
        claim = state.claims.get(settled.as_no)
        if claim is None or not claim.open:
            return
        claim.status = settled.status
        if settled.refunded_fen:  # refunded on the order's payment: the child called the provider
            state.refunded_fen += settled.refunded_fen
            on_balance = min(claim.on_balance_fen, settled.refunded_fen)  # a presale's balance
            state.refunded_on_balance += on_balance
            state.refunded_on_payment += settled.refunded_fen - on_balance

    async def wait_all(self) -> None:
        """The window is closed: no new request; the open ones finish first."""
        state = self._state
        state.window_closed = True
        await workflow.wait_condition(
            lambda: state.open_after_sales == 0 and all(t.done() for t in state.replacements)
        )
