"""OrderWorkflow's state, in one dataclass, and the rules that read it: the order's view, what
each package holds now, which units after-sales may still take and for how much (DESIGN §6.1,
§6.3). Nothing here awaits or changes the order's status: the workflow (workflows/order.py) does,
and its parts (packages, after-sales) reach it only through `OrderSteps`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from models.contracts.after_sale import OPEN_STATUSES, AfterSaleRequest
    from models.contracts.order import (
        Actor,
        CancelRequest,
        ConfirmReceipt,
        OrderInput,
        OrderStatus,
        OrderView,
        PackageLine,
        PackagePlan,
        PackageView,
        PaymentReceived,
        PlacedOrder,
        PlaceOrderRequest,
        RefundState,
        RiskDecision,
        TimelineEntry,
    )
    from models.contracts.shipment import ShipmentResult, UnitsWithdrawn
    from models.contracts.waves import PackageShort
    from models.domain.refunds import (
        LineHistory,
        RefundError,
        RefundQuote,
        RefundRequestLine,
        quote_refund,
    )
    from models.domain.shipping import package_value
    from workflows.shipment import ShipmentWorkflow

SYSTEM = Actor(kind="system", name="order")
# A presale's order whose balance is paid (DESIGN §6.8): an after-sale refunds on the balance's
# payment first, the rest on the deposit's, each no more than it paid. Other orders never ask.
PRESALE_AFTER_SALE_PATCH = "presale-after-sale-across-payments"
OPEN_FOR_AFTER_SALES = ("delivered", "completed")
BEFORE_SHIPMENT = ("paid", "fulfilling")  # refund-only: units not yet picked are taken out
NOT_DELIVERED = "not delivered yet (before shipment only a refund-only request can be made)"

Detail = dict[str, str | int | bool | None]


class OrderSteps(Protocol):
    """What the order's parts may ask of the order: a step on its timeline and projection (never
    a change of status: the workflow alone changes it), and a refund on a payment."""

    async def record(self, step: str, *, detail: Detail | None = None) -> None: ...

    async def refund(
        self, payment: PaymentReceived, amount_fen: int, refund_no: str, reason: str
    ) -> None: ...


@dataclass
class Claim:
    """An after-sale the order opened: what it takes, and how far it got."""

    quote: RefundQuote
    status: str = "requested"
    on_balance_fen: int = 0  # a presale's order: the part refunded on the balance's payment

    @property
    def open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def takes_units(self) -> bool:
        """Rejected, withdrawn or closed: nothing taken; exchanged: the customer holds the
        replacement units, which may come back in a later after-sale."""
        return self.status not in ("rejected", "withdrawn", "closed", "exchanged")


@dataclass
class OrderState:
    input: OrderInput
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    status: OrderStatus = "placing"
    # What readers of the projection see: updates answer once it has caught up.
    projected: OrderStatus = "placing"
    placement: PlacedOrder | None = None
    place_request: PlaceOrderRequest | None = None
    # When the order was written (record_order's answer, kept in the history): the placement
    # task's last step, so the deadline's timer, started as that task ends, is timed from it.
    written_at: datetime | None = None
    rejection: ApplicationError | None = None
    timeline: list[TimelineEntry] = field(default_factory=list)
    steps: int = 0
    # --- payment, review, cancel, receipt ---
    payment: PaymentReceived | None = None
    seen_transactions: set[str] = field(default_factory=set)
    paid_fen: int = 0
    refunded_fen: int = 0  # on every payment, the order's own refunds and after-sales'
    refunded_on_payment: int = 0  # on the order's accepted payment
    cancel: CancelRequest | None = None
    decision: RiskDecision | None = None
    escalated: bool = False
    sla_watch: asyncio.Task[None] | None = None
    confirmed: ConfirmReceipt | None = None
    # A group-buy member's order: what its group decided ("completed" | "failed").
    group_outcome: str | None = None
    # Refunds owed and not made yet (pending at the provider, or refused), by refund number.
    owed: dict[str, RefundState] = field(default_factory=dict)
    # --- packages ---
    shipping: bool = False  # paid and approved: its packages are being started and shipped
    packages: dict[str, PackageView] = field(default_factory=dict)  # as their shipments told
    plans: dict[str, PackagePlan] = field(default_factory=dict)  # every package started
    # The order's handles on its packages' shipments: what a cancel or an after-sale reaches.
    shipments: dict[str, workflow.ChildWorkflowHandle[ShipmentWorkflow, ShipmentResult]] = field(
        default_factory=dict
    )
    finished: set[str] = field(default_factory=set)  # packages whose shipment ended
    shorts: list[PackageShort] = field(default_factory=list)  # short picks not yet handled
    # Units taken out of packages before picking (refund-only after-sales), per package.
    withdrawn: dict[str, list[PackageLine]] = field(default_factory=dict)
    # Units and fen per line the order refunded itself (lost, short, cancelled packages):
    # after-sales count them as taken.
    package_refunds: dict[int, tuple[int, int]] = field(default_factory=dict)
    # --- after-sales ---
    claims: dict[str, Claim] = field(default_factory=dict)
    answers: dict[tuple[str, str], UnitsWithdrawn] = field(default_factory=dict)
    window_closed: bool = False
    replacements: list[asyncio.Task[None]] = field(default_factory=list)  # exchanges shipping
    # --- a presale's order (预售, DESIGN §6.8): `payment` is its deposit ---
    balance: PaymentReceived | None = None
    refunded_on_balance: int = 0
    # After-sales refund on the balance's payment first, then the deposit's (decided when the
    # balance is paid, under PRESALE_AFTER_SALE_PATCH: earlier runs refunded on the deposit).
    after_sales_across_payments: bool = False
    balance_open: bool = False  # the balance window opened (cancels now forfeit the deposit)

    @property
    def placed(self) -> PlacedOrder:
        assert self.placement is not None
        return self.placement

    @property
    def request(self) -> PlaceOrderRequest:
        assert self.place_request is not None
        return self.place_request

    @property
    def cancel_requested(self) -> bool:
        return self.cancel is not None

    def view(self) -> OrderView:
        placed = self.placement
        return OrderView(
            order_no=self.input.order_no,
            status=self.status,
            escalated=self.escalated,
            under_review=bool(placed and placed.under_review and self.decision is None),
            payable_fen=placed.quote.payable_fen if placed else 0,
            paid_fen=self.paid_fen,
            refunded_fen=self.refunded_fen,
            payment_deadline=placed.payment_deadline if placed else None,
            packages=list(self.packages.values()),
            timeline=list(self.timeline),
            pending_refunds=list(self.owed.values()),
        )

    # --- packages ---------------------------------------------------------------------------

    def current_lines(self, plan: PackagePlan) -> list[PackageLine]:
        """The package's lines less what after-sales took out of it before picking."""
        taken: dict[int, int] = {}
        for line in self.withdrawn.get(plan.package_no, []):
            taken[line.line_no] = taken.get(line.line_no, 0) + line.quantity
        left = [
            line.model_copy(update={"quantity": line.quantity - taken.get(line.line_no, 0)})
            for line in plan.lines
        ]
        return [line for line in left if line.quantity > 0]

    def packages_handed_over(self) -> list[PackageView]:
        return [
            p for p in self.packages.values() if p.status in ("shipped", "delivered", "exception")
        ]

    def package_delivered(self, package_no: str) -> None:
        """A shipment's result: delivered (its last progress signal may have been handover)."""
        if (view := self.packages.get(package_no)) is not None:
            self.packages[package_no] = view.model_copy(update={"status": "delivered"})

    def package_refunded(self, lines: list[PackageLine]) -> None:
        """A package refund (its value, by `package_value`) took these units."""
        for part in lines:
            units, fen = self.package_refunds.get(part.line_no, (0, 0))
            value = package_value(self.placed.quote.lines, [part])
            self.package_refunds[part.line_no] = (units + part.quantity, fen + value)

    def open_packages(self) -> list[PackagePlan]:
        """Packages not handed over, with their lines as they are now."""
        plans = list(self.plans.values()) if self.shipping else list(self.placed.packages)
        shipped = {p.package_no for p in self.packages_handed_over()}
        return [
            plan.model_copy(update={"lines": self.current_lines(plan)})
            for plan in sorted(plans, key=lambda p: p.package_no)
            if plan.package_no not in self.finished and plan.package_no not in shipped
        ]

    def units_not_shipped(self) -> dict[int, int]:
        units: dict[int, int] = {}
        for plan in self.open_packages():
            for line in plan.lines:
                units[line.line_no] = units.get(line.line_no, 0) + line.quantity
        return units

    # --- after-sales ------------------------------------------------------------------------

    @property
    def open_after_sales(self) -> int:
        return sum(1 for claim in self.claims.values() if claim.open)

    def check_after_sale(self, request: AfterSaleRequest) -> RefundQuote:
        """The amounts of the request, or an ApplicationError saying why it is refused."""
        if self.before_shipment(request):
            self._check_not_shipped(request)
        else:
            status = self.status
            if self.window_closed or status not in OPEN_FOR_AFTER_SALES:
                closed = self.window_closed or status == "closed"
                why = "its after-sale window has closed" if closed else NOT_DELIVERED
                raise ApplicationError(f"order is {status}: {why}", type="InvalidStateError")
        if request.as_no in self.claims:
            raise ApplicationError(f"{request.as_no} exists", type="InvalidStateError")
        return self.quote(request.lines)

    def before_shipment(self, request: AfterSaleRequest) -> bool:
        """A refund-only request takes its units out of packages not handed over yet: before
        the order ships, or once delivered when a replacement still on its way holds them."""
        if request.type != "refund_only":
            return False
        if self.status in BEFORE_SHIPMENT:
            return True
        if self.window_closed or self.status not in OPEN_FOR_AFTER_SALES:
            return False
        waiting = self.units_not_shipped()
        return all(line.quantity <= waiting.get(line.line_no, 0) for line in request.lines)

    def _check_not_shipped(self, request: AfterSaleRequest) -> None:
        if self.placed.under_review and self.status == "paid":
            raise ApplicationError(
                "order is paid and awaits its risk review: cancel it instead",
                type="InvalidStateError",
            )
        open_units = self.units_not_shipped()
        for line in request.lines:
            if line.quantity > open_units.get(line.line_no, 0):
                raise ApplicationError(
                    f"line {line.line_no}: {open_units.get(line.line_no, 0)} units not yet "
                    f"shipped, {line.quantity} asked; the rest can be refunded once delivered",
                    type="AfterSaleQuantityError",
                )

    def quote(self, lines: Sequence[RefundRequestLine]) -> RefundQuote:
        try:
            return quote_refund(self.placed.quote, lines, self._history(), self._committed_fen())
        except RefundError as exc:
            raise ApplicationError(str(exc), type="AfterSaleQuantityError") from exc

    def _history(self) -> list[LineHistory]:
        """Units and fen per line of every after-sale not rejected or withdrawn, and of the
        order's own package refunds (lost, short or cancelled packages)."""
        taken: dict[int, tuple[int, int]] = dict(self.package_refunds)
        for claim in self.claims.values():
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
        """Refunded on the order so far plus what open after-sales will refund (a presale's
        order: on both of its payments)."""
        pending = sum(c.quote.total_fen for c in self.claims.values() if c.open)
        if self.after_sales_across_payments:
            return self.refunded_on_payment + self.refunded_on_balance + pending
        return self.refunded_on_payment + pending

    def balance_allotted(self, but: str) -> int:
        """A presale's order: refunded on the balance's payment so far plus what open
        after-sales (other than `but`) will refund on it."""
        pending = sum(c.on_balance_fen for no, c in self.claims.items() if c.open and no != but)
        return self.refunded_on_balance + pending

    def shipped_from(self, request: AfterSaleRequest) -> int:
        """The warehouse the first requested line went out from: the goods come back there."""
        line_no = request.lines[0].line_no
        plans = self.placed.packages
        return next(
            (p.warehouse_id for p in plans if any(x.line_no == line_no for x in p.lines)),
            plans[0].warehouse_id,
        )

    def refusals(self, as_no: str) -> list[str]:
        found = [a.refused for (no, _), a in self.answers.items() if no == as_no and a.refused]
        return found or ["its packages are already picked or handed over"]
