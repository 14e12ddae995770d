"""Fake activities under the real activity names, recording every call, and the order data
they answer with; `tests.workflows.scenario` drives an order over them."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from models.contracts import after_sale as a
from models.contracts import order as o
from models.contracts import shipment as sh
from models.contracts import waves as w
from models.contracts.loyalty import PointsEarned, PointsRefund
from models.contracts.pricing import AppliedDiscount, DiscountAllocation, PricedLine

WAIT_S = 20.0  # real seconds before a wait gives up: a failure bound, not a pause
T0 = datetime(2025, 1, 1, tzinfo=UTC)

# Line 1: 2 × 50.00 with a 10.00 coupon → 90.00 paid; line 2: 1 × 30.00. Freight 8.00.
COUPON = DiscountAllocation(source="coupon", source_id=7, amount_fen=1_000)
LINES = [
    PricedLine(line_no=1, sku_id=101, category_id=1, quantity=2, unit_price_fen=5_000,
               list_amount_fen=10_000, allocations=[COUPON], discount_fen=1_000, paid_fen=9_000),
    PricedLine(line_no=2, sku_id=102, category_id=1, quantity=1, unit_price_fen=3_000,
               list_amount_fen=3_000, discount_fen=0, paid_fen=3_000),
]  # fmt: skip
PAYABLE_FEN = 12_800

STAFF = o.Actor(kind="user", name="ops", role="manager")
CUSTOMER = o.Actor(kind="user", name="customer-42", role="customer")
DEVICE = o.Actor(kind="device", name="pack-station-1")


def new_order_no() -> str:
    return f"SO{uuid.uuid4().int % 10**16:016d}"


@dataclass
class Call:
    name: str
    arg: Any
    at: datetime  # server time the attempt was scheduled (skipped time on the test server)


class FakeBackOffice:
    """Every activity the order and shipment workflows call, recording each call.

    `packages=1` ships both lines from warehouse 1; `packages=2` splits them (line 1 from
    warehouse 1, line 2 from warehouse 2). `poll_answers` are returned by poll_tracking in turn."""

    def __init__(self, order_no: str, *, packages: int = 1) -> None:
        self.order_no = order_no
        self.plans = self._plans(packages)
        self.poll_answers: list[sh.TrackingSnapshot] = []
        self.calls: list[Call] = []
        self._changed = asyncio.Condition()
        self._holds: list[tuple[str, Callable[[Any], bool], asyncio.Event]] = []
        # The (time-skipping) server's clock: a local activity's scheduled time is the worker's
        # wall clock, so calls are stamped with the server's time instead.
        self.clock: Callable[[], Awaitable[datetime]] | None = None
        self.carrier_down_attempts = 0  # create_waybill fails this many times first
        self.no_stock_for_packages = False  # reserve_stock and reserve_package: out of stock
        self.holding: dict[str, list[o.PackageLine]] = {}  # after withdraw_units, per package
        self.refunds_refused = 0  # refund_payment refuses this many times first
        self.unvouched: set[str] = set()  # transactions confirm_payment says the provider lacks
        self.points_used = 0  # points the quote says the customer spends at checkout
        self.record_delay = timedelta(0)  # record_order answers it wrote the order this late
        self.written: list[datetime] = []  # record_order's answers
        self.recorded: set[str] = set()  # transactions confirm_payment says we have recorded
        self.reserved: list[o.PackagePlan] = []  # packages reserve_package made (reships, ...)

    def plan(self, package_no: str) -> o.PackagePlan:
        """The package of that number, placed or reserved later; a number derived from a
        placed package's (`…R1`, `…B`) finds that package."""
        for plan in [*self.plans, *self.reserved]:
            if plan.package_no == package_no:
                return plan
        return next(p for p in self.plans if package_no.startswith(p.package_no))

    def _plans(self, packages: int) -> list[o.PackagePlan]:
        """Weights before the box (box_tare_g = 0): line 1 weighs 1 000 g, line 2 400 g."""
        base, weights = f"PK{self.order_no[2:]}", {1: 1_000, 2: 400}
        lines = [o.PackageLine(line_no=n, sku_id=100 + n, quantity=3 - n) for n in (1, 2)]
        if packages == 1:
            return [
                o.PackagePlan(package_no=f"{base}01", warehouse_id=1, lines=lines, weight_g=1_400)
            ]
        return [
            o.PackagePlan(
                package_no=f"{base}0{n}", warehouse_id=n, lines=[line], weight_g=weights[n]
            )
            for n, line in zip((1, 2), lines, strict=True)
        ]

    # --- what tests read ---------------------------------------------------------------------

    def of(self, name: str, match: Callable[[Any], bool] = lambda _: True) -> list[Any]:
        return [call.arg for call in self.calls if call.name == name and match(call.arg)]

    def times(self, name: str, match: Callable[[Any], bool] = lambda _: True) -> list[datetime]:
        return [call.at for call in self.calls if call.name == name and match(call.arg)]

    def steps(self, package_no: str) -> list[str]:
        return [s.step for s in self.of("record_shipment_step") if s.package_no == package_no]

    async def wait_for(
        self, name: str, match: Callable[[Any], bool] = lambda _: True, count: int = 1
    ) -> Any:
        """The `count`-th call of `name` matching `match`, once it has happened."""
        async with asyncio.timeout(WAIT_S), self._changed:
            await self._changed.wait_for(lambda: len(self.of(name, match)) >= count)
        return self.of(name, match)[count - 1]

    async def wait_step(self, package_no: str, step: str, count: int = 1) -> sh.ShipmentStep:
        found: sh.ShipmentStep = await self.wait_for(
            "record_shipment_step",
            lambda s: s.package_no == package_no and s.step == step,
            count,
        )
        return found

    async def wait_status(self, step: str) -> o.StatusChange:
        found: o.StatusChange = await self.wait_for("record_status", lambda c: c.step == step)
        return found

    def hold(self, name: str, match: Callable[[Any], bool]) -> asyncio.Event:
        """Make matching calls of `name` wait (after being recorded) until the event is set."""
        gate = asyncio.Event()
        self._holds.append((name, match, gate))
        return gate

    async def _record(self, name: str, arg: Any) -> None:
        at = await self.clock() if self.clock else activity.info().current_attempt_scheduled_time
        self.calls.append(Call(name, arg, at))
        async with self._changed:
            self._changed.notify_all()
        for held, match, gate in self._holds:
            if held == name and match(arg):
                await gate.wait()

    def activities(self) -> list[Callable[..., Any]]:
        methods = (getattr(self, name) for name in dir(type(self)) if not name.startswith("_"))
        return [m for m in methods if hasattr(m, "__temporal_activity_definition")]

    # --- OrderActivities ---------------------------------------------------------------------

    @activity.defn(name="quote_order")
    async def quote_order(self, request: o.QuoteRequest) -> o.Quote:
        await self._record("quote_order", request)
        return o.Quote(
            lines=LINES,
            discounts=[AppliedDiscount(source="coupon", source_id=7, amount_fen=1_000)],
            coupon_id=7,
            goods_list_fen=13_000,
            discount_fen=1_000,
            goods_paid_fen=12_000,
            freight_fen=800,
            payable_fen=PAYABLE_FEN,
            packages=self.plans,
            points_used=self.points_used,
        )

    @activity.defn(name="record_order")
    async def record_order(self, request: o.RecordOrderRequest) -> datetime | None:
        await self._record("record_order", request)
        now = await self.clock() if self.clock is not None else datetime.now(UTC)
        self.written.append(now + self.record_delay)
        return self.written[-1]

    @activity.defn(name="record_status")
    async def record_status(self, change: o.StatusChange) -> None:
        await self._record("record_status", change)

    @activity.defn(name="record_package")
    async def record_package(self, plan: o.RecordPackageRequest) -> None:
        await self._record("record_package", plan)

    @activity.defn(name="return_coupon")
    async def return_coupon(self, order_no: str) -> None:
        await self._record("return_coupon", order_no)

    # --- LoyaltyActivities -------------------------------------------------------------------

    @activity.defn(name="earn_points")
    async def earn_points(self, order_no: str) -> PointsEarned:
        await self._record("earn_points", order_no)
        return PointsEarned(order_no=order_no, points=0, growth=0, level_id=None)

    @activity.defn(name="return_points")
    async def return_points(self, order_no: str) -> int:
        await self._record("return_points", order_no)
        return 0

    @activity.defn(name="refund_points")
    async def refund_points(self, refund: PointsRefund) -> int:
        await self._record("refund_points", refund)
        return 0

    # --- InventoryActivities -----------------------------------------------------------------

    @activity.defn(name="reserve_stock")
    async def reserve_stock(self, request: o.ReserveRequest) -> o.Reservation:
        await self._record("reserve_stock", request)
        if self.no_stock_for_packages:
            raise ApplicationError(
                "out of stock: SKUs [101]", {"sku_ids": [101]}, type="OutOfStockError",
                non_retryable=True,
            )  # fmt: skip
        return o.Reservation(packages=self.plans)

    @activity.defn(name="reserve_package")
    async def reserve_package(self, request: o.ReservePackageRequest) -> o.PackagePlan:
        await self._record("reserve_package", request)
        if self.no_stock_for_packages:
            raise ApplicationError("out of stock", type="OutOfStockError", non_retryable=True)
        weight = sum(p.weight_g for p in self.plans if p.warehouse_id == request.warehouse_id)
        plan = o.PackagePlan(
            package_no=request.package_no,
            warehouse_id=request.warehouse_id,
            lines=request.lines,
            weight_g=weight,
        )
        self.reserved.append(plan)
        return plan

    @activity.defn(name="release_stock")
    async def release_stock(self, request: o.ReleaseRequest) -> int:
        await self._record("release_stock", request)
        return 1

    @activity.defn(name="withdraw_units")
    async def withdraw_units(self, request: sh.WithdrawRequest) -> sh.UnitsWithdrawn:
        """Gives up what the package still holds of each line (all of it when asked)."""
        await self._record("withdraw_units", request)
        plan = self.plan(request.package_no)
        holds = {line.line_no: line for line in self.holding.get(plan.package_no, plan.lines)}
        taken: list[o.PackageLine] = []
        for ask in request.lines:
            have = holds.get(ask.line_no)
            units = min(ask.quantity, have.quantity if have else 0)
            if have and units:
                taken.append(have.model_copy(update={"quantity": units}))
                holds[ask.line_no] = have.model_copy(update={"quantity": have.quantity - units})
        left = [line for line in holds.values() if line.quantity > 0]
        self.holding[plan.package_no] = left
        return sh.UnitsWithdrawn(
            as_no=request.as_no,
            package_no=request.package_no,
            withdrawn=taken,
            left=left,
            withdrawn_weight_g=sum(100 * x.quantity for x in taken),
        )

    @activity.defn(name="ship_stock")
    async def ship_stock(self, request: sh.ConsumeRequest) -> int:
        await self._record("ship_stock", request)
        return len(request.lines)

    # --- WaveActivities (what a shipment calls) ------------------------------------------------

    @activity.defn(name="register_outbound")
    async def register_outbound(self, request: w.OutboundRequest) -> None:
        await self._record("register_outbound", request)

    @activity.defn(name="record_after_sale_step")
    async def record_after_sale_step(self, step: a.AfterSaleStep) -> None:
        await self._record("record_after_sale_step", step)

    @activity.defn(name="receive_return")
    async def receive_return(self, inbound: a.ReturnInbound) -> int:
        await self._record("receive_return", inbound)
        return sum(line.sellable + line.damaged for line, _ in inbound.lines)

    @activity.defn(name="cancel_picks")
    async def cancel_picks(self, package_no: str) -> w.PicksCancelled:
        await self._record("cancel_picks", package_no)
        return w.PicksCancelled(wave_no=None, returned_units=0)

    # --- PaymentActivities -------------------------------------------------------------------

    @activity.defn(name="open_payment")
    async def open_payment(self, request: o.OpenPaymentRequest) -> o.PaymentSession:
        await self._record("open_payment", request)
        return o.PaymentSession(
            order_no=request.order_no,
            payment_id=f"PAY-{request.order_no}",
            pay_token="tok",
            amount_fen=request.amount_fen,
            currency=request.currency,
        )

    @activity.defn(name="confirm_payment")
    async def confirm_payment(self, request: o.ConfirmPaymentRequest) -> o.PaymentConfirmation:
        await self._record("confirm_payment", request)
        transaction = request.payment.transaction_id
        return o.PaymentConfirmation(
            vouched=transaction not in self.unvouched, recorded=transaction in self.recorded
        )

    @activity.defn(name="record_payment")
    async def record_payment(self, request: o.RecordPaymentRequest) -> None:
        await self._record("record_payment", request)

    @activity.defn(name="refund_payment")
    async def refund_payment(self, request: o.RefundRequest) -> o.RefundResult:
        await self._record("refund_payment", request)
        if self.refunds_refused > 0:
            self.refunds_refused -= 1
            raise ApplicationError(
                "refund exceeds the payment's balance",
                type="RefundRefusedError",
                non_retryable=True,
            )
        return o.RefundResult(
            refund_no=request.refund_no,
            provider_refund_id=f"P-{request.refund_no}",
            amount_fen=request.amount_fen,
        )

    # --- ShipmentActivities ------------------------------------------------------------------

    @activity.defn(name="record_shipment_step")
    async def record_shipment_step(self, step: sh.ShipmentStep) -> None:
        await self._record("record_shipment_step", step)

    @activity.defn(name="allocate_tracking_number")
    async def allocate_tracking_number(self, request: sh.WaybillRequest) -> str | None:
        await self._record("allocate_tracking_number", request)
        return None

    @activity.defn(name="create_waybill")
    async def create_waybill(self, request: sh.WaybillRequest) -> sh.Waybill:
        await self._record("create_waybill", request)
        if self.carrier_down_attempts > 0:  # a retryable failure, as a timeout would be
            self.carrier_down_attempts -= 1
            raise ApplicationError("carrier unavailable")
        return sh.Waybill(
            package_no=request.package_no,
            waybill_no=f"WB{request.package_no[2:]}",
            tracking_no=f"SF{request.package_no[2:]}",
        )

    @activity.defn(name="cancel_waybill")
    async def cancel_waybill(self, request: sh.WaybillCancel) -> None:
        await self._record("cancel_waybill", request)

    @activity.defn(name="poll_tracking")
    async def poll_tracking(self, tracking_no: str) -> sh.TrackingSnapshot:
        await self._record("poll_tracking", tracking_no)
        if self.poll_answers:
            return self.poll_answers.pop(0)
        return sh.TrackingSnapshot(tracking_no=tracking_no, status="in_transit")

    @activity.defn(name="follow_return")
    async def follow_return(self, request: a.FollowReturn) -> sh.TrackingSnapshot:
        """Knows every parcel but those numbered UNKNOWN…; nothing happened to it yet."""
        await self._record("follow_return", request)
        if request.tracking_no.startswith("UNKNOWN"):
            raise ApplicationError(
                f"carrier {request.carrier_code} knows no parcel {request.tracking_no}",
                type="UnknownTrackingError",
                non_retryable=True,
            )
        return sh.TrackingSnapshot(tracking_no=request.tracking_no, status="created")


def snapshot(tracking_no: str, *codes: str) -> sh.TrackingSnapshot:
    """The carrier's full event list so far; its status is the last event's code."""
    events = [
        sh.TrackingEvent(code=code, location="上海", occurred_at=T0 + timedelta(hours=n))
        for n, code in enumerate(codes)
    ]
    return sh.TrackingSnapshot(tracking_no=tracking_no, status=codes[-1], events=events)
