"""The Temporal baselines bench/orders.py compares houtai with: plain workflows, no database,
no HTTP (their own worker and task queue on the same dev server, in the bench's process): a bare
Update-with-Start, and the lifecycle floor, houtai's order topology with no-op bodies."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.workflow import ParentClosePolicy

USE_EXISTING = WorkflowIDConflictPolicy.USE_EXISTING


@activity.defn
async def noop(step: int) -> int:
    return step


@workflow.defn
class BareWorkflow:
    """A trivial workflow whose update returns at once: the create-order baseline."""

    def __init__(self) -> None:
        self._touched = False

    @workflow.run
    async def run(self) -> None:
        await workflow.wait_condition(lambda: self._touched)

    @workflow.update
    def touch(self, n: int) -> int:
        self._touched = True
        return n


# --- the lifecycle floor: houtai's topology with no-op bodies --------------------------------
#
# An order with one shipment child per warehouse; each warehouse's floor plans waiting packages
# with a planner workflow that starts a wave child; the wave tells its packages they are picked.
# The same timers (as `wait_condition(..., timeout=...)`, started and cancelled as houtai's are),
# regular and local activities, signals (from the client and between workflows) and updates as
# the recorded histories of a two-package order show (bench/_topology.py prints both). Where
# houtai writes PostgreSQL the floor's local activity `step` only notes the step in this process
# (`FLOOR`), and where a houtai client watches a view the floor's client awaits that note: what
# houtai's views and watches add is houtai's cost, not the floor's.

PAYMENT_WINDOW = timedelta(minutes=30)
CONFIRM_WINDOW = timedelta(days=7)
LABEL_WAIT = timedelta(seconds=10)
TRACKING_POLL = timedelta(hours=1)
WAVE_REFRESH = timedelta(minutes=15)
TRACKING_EVENTS = 2  # picked_up, delivered


class Floor:
    """What the floor's no-op steps note: packages waiting per warehouse (what the planner
    takes, as houtai's plan reads the database) and steps reached (what a client waits for)."""

    def __init__(self) -> None:
        self.waiting: dict[str, list[str]] = defaultdict(list)
        self._reached: dict[str, asyncio.Event] = defaultdict(asyncio.Event)

    def note(self, key: str) -> None:
        self._reached[key].set()

    async def reached(self, key: str) -> None:
        await self._reached[key].wait()
        del self._reached[key]


FLOOR = Floor()


@dataclass
class Step:
    name: str
    key: str = ""  # a step a client waits for
    waiting: str = ""  # a package now waiting in this warehouse ("warehouse:package")


@activity.defn
async def step(s: Step) -> str:
    """The floor's local activity: nothing but the note houtai's projection write would make."""
    if s.waiting:
        warehouse, package = s.waiting.split(":", 1)
        FLOOR.waiting[warehouse].append(package)
    if s.key:
        FLOOR.note(s.key)
    return s.name


@activity.defn
async def provider_call(name: str) -> str:
    """The floor's regular activity (houtai calls the payment provider and the carrier)."""
    return name


async def _local(name: str, key: str = "", waiting: str = "") -> None:
    await workflow.execute_local_activity(
        step, Step(name, key, waiting), start_to_close_timeout=timedelta(seconds=30)
    )


async def _regular(name: str) -> None:
    await workflow.execute_activity(
        provider_call, name, start_to_close_timeout=timedelta(seconds=30)
    )


@dataclass
class FloorOrderInput:
    order_id: str
    warehouses: list[str]
    after_sale_window_s: float = 0.0


@workflow.defn
class FloorOrderWorkflow:
    """houtai's OrderWorkflow: placed by Update-with-Start (quote, reserve, record), a payment
    deadline, a payment opened by an update and received by a signal, one shipment child per
    warehouse, each telling its handover by a signal, a confirmation window closed by an update,
    completed (points earned), the after-sale window, closed."""

    def __init__(self) -> None:
        self._placed = self._paid = self._confirmed = self._completed = False
        self._progress = 0

    @workflow.run
    async def run(self, input: FloorOrderInput) -> str:
        await workflow.wait_condition(lambda: self._placed)
        with suppress(TimeoutError):
            await workflow.wait_condition(lambda: self._paid, timeout=PAYMENT_WINDOW)
        await _local("record_payment")
        await _local("record_status")  # paid
        await _local("record_status")  # fulfilling
        children = await asyncio.gather(
            *(
                workflow.start_child_workflow(
                    FloorShipmentWorkflow.run,
                    FloorShipmentInput(f"{input.order_id}-{wh}", input.order_id, wh),
                    id=f"floor-shipment-{input.order_id}-{wh}",
                )
                for wh in input.warehouses
            )
        )
        await asyncio.gather(*children)
        await _local("record_status", key=f"{input.order_id}:delivered")
        with suppress(TimeoutError):
            await workflow.wait_condition(lambda: self._confirmed, timeout=CONFIRM_WINDOW)
        await _local("record_status")  # completed
        self._completed = True
        await _local("earn_points")
        if input.after_sale_window_s > 0:
            await workflow.sleep(input.after_sale_window_s)
        await _local("record_status")  # closed
        await workflow.wait_condition(workflow.all_handlers_finished)
        return "closed"

    @workflow.update
    async def place(self) -> str:
        for name in ("quote_order", "reserve_stock", "record_order"):
            await _local(name)
        self._placed = True
        return "awaiting_payment"

    @workflow.update
    async def request_payment(self) -> str:
        await _regular("open_payment")
        return "opened"

    @workflow.signal
    def payment_received(self) -> None:
        self._paid = True

    @workflow.signal
    def package_progress(self) -> None:
        self._progress += 1

    @workflow.update
    async def confirm_receipt(self) -> str:
        self._confirmed = True
        await workflow.wait_condition(lambda: self._completed)
        return "completed"


@dataclass
class FloorShipmentInput:
    package_id: str
    order_id: str
    warehouse: str


@workflow.defn
class FloorShipmentWorkflow:
    """houtai's ShipmentWorkflow: registered for picking, told "picked" by its wave, packed by
    an update that waits (the label wait's timer) for the waybill, which the run gets from the
    carrier (a regular activity), handed over by an update (the run books the stock out and
    tells the order), then the carrier's tracking signals, each round awaited with the tracking
    poll's timer and recorded once (signals arriving together make one round, as in houtai)."""

    def __init__(self) -> None:
        self._picked = self._packed = self._labelled = self._handed = self._shipped = False
        self._tracking = 0

    @workflow.run
    async def run(self, input: FloorShipmentInput) -> str:
        await _local("register_outbound", waiting=f"{input.warehouse}:{input.package_id}")
        await _local("record_shipment_step")  # released
        await workflow.wait_condition(lambda: self._picked)
        await _local("record_shipment_step", key=f"{input.package_id}:picked")
        await workflow.wait_condition(lambda: self._packed)
        await _local("allocate_tracking_number")
        await _regular("create_waybill")
        await _local("record_shipment_step")  # waybill_created
        self._labelled = True
        await workflow.wait_condition(lambda: self._handed)
        await _local("ship_stock")
        await _local("record_shipment_step")  # shipped
        self._shipped = True
        order = workflow.get_external_workflow_handle(f"floor-order-{input.order_id}")
        await order.signal(FloorOrderWorkflow.package_progress)
        seen = 0
        while seen < TRACKING_EVENTS:
            with suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._tracking > seen,  # noqa: B023 - awaited here
                    timeout=TRACKING_POLL,
                )
            seen = self._tracking
            await _local("record_shipment_step")  # tracking
        await workflow.wait_condition(workflow.all_handlers_finished)
        return "delivered"

    @workflow.signal
    def picked(self) -> None:
        self._picked = True

    @workflow.signal
    def tracking(self) -> None:
        self._tracking += 1

    @workflow.update
    async def pack(self) -> str:
        await _local("record_shipment_step")  # packed
        self._packed = True
        with suppress(TimeoutError):
            await workflow.wait_condition(lambda: self._labelled, timeout=LABEL_WAIT)
        return "waybill_created"

    @workflow.update
    async def hand_over(self) -> str:
        self._handed = True
        await workflow.wait_condition(lambda: self._shipped)
        return "shipped"


@dataclass
class FloorPlanInput:
    warehouse: str
    wave_id: str
    packages: list[str]


@workflow.defn
class FloorWavePlannerWorkflow:
    """houtai's WavePlannerWorkflow: plans (a local activity) and starts the wave, abandoned."""

    @workflow.run
    async def run(self, input: FloorPlanInput) -> str:
        await _local("plan_waves")
        await workflow.start_child_workflow(
            FloorWaveWorkflow.run,
            input,
            id=f"floor-wave-{input.wave_id}",
            parent_close_policy=ParentClosePolicy.ABANDON,
        )
        return input.wave_id


@workflow.defn
class FloorWaveWorkflow:
    """houtai's WaveWorkflow: settles, waits for a task finished (the refresh timer), settles,
    tells each package it is picked, finishes."""

    def __init__(self) -> None:
        self._milestones = 0

    @workflow.run
    async def run(self, input: FloorPlanInput) -> str:
        await _local("settle_wave")
        with suppress(TimeoutError):
            await workflow.wait_condition(lambda: self._milestones > 0, timeout=WAVE_REFRESH)
        await _local("settle_wave")
        for package in input.packages:
            shipment = workflow.get_external_workflow_handle(f"floor-shipment-{package}")
            await shipment.signal(FloorShipmentWorkflow.picked)
        await _local("finish_wave")
        return "done"

    @workflow.signal
    def task_finished(self) -> None:
        self._milestones += 1


FLOOR_WORKFLOWS = [
    FloorOrderWorkflow, FloorShipmentWorkflow, FloorWavePlannerWorkflow, FloorWaveWorkflow
]  # fmt: skip
FLOOR_ACTIVITIES = [step, provider_call]


async def floor_lifecycle(
    client: Client, queue: str, warehouses: list[str], after_sale_window_s: float = 0.0
) -> list[str]:
    """One order through the floor, driven as bench/orders.py drives houtai's: place with
    Update-with-Start, request payment, the provider's payment signal; per package, once its wave
    has told it, pack and hand over, then the carrier's tracking signals; confirm receipt once
    delivered, await the close. Returns the ids of the order and its shipments."""
    order_id = uuid.uuid4().hex
    order = f"floor-order-{order_id}"
    start = WithStartWorkflowOperation(
        FloorOrderWorkflow.run,
        FloorOrderInput(order_id, warehouses, after_sale_window_s),
        id=order,
        task_queue=queue,
        id_conflict_policy=USE_EXISTING,
    )
    await client.execute_update_with_start_workflow(
        FloorOrderWorkflow.place, start_workflow_operation=start
    )
    handle = client.get_workflow_handle(order)
    await handle.execute_update(FloorOrderWorkflow.request_payment)
    await handle.signal(FloorOrderWorkflow.payment_received)

    async def ship(package: str) -> None:
        await FLOOR.reached(f"{package}:picked")
        shipment = client.get_workflow_handle(f"floor-shipment-{package}")
        await shipment.execute_update(FloorShipmentWorkflow.pack)
        await shipment.execute_update(FloorShipmentWorkflow.hand_over)
        for _ in range(TRACKING_EVENTS):
            await shipment.signal(FloorShipmentWorkflow.tracking)

    packages = [f"{order_id}-{wh}" for wh in warehouses]
    await asyncio.gather(*(ship(p) for p in packages))
    await FLOOR.reached(f"{order_id}:delivered")
    await handle.execute_update(FloorOrderWorkflow.confirm_receipt)
    await handle.result()
    return [order, *(f"floor-shipment-{p}" for p in packages)]


async def floor_warehouses(client: Client, queue: str, warehouses: list[str], every: float) -> None:
    """The floor's warehouses, as bench/orders.py's `warehouse_floor` works houtai's: each, every
    `every` seconds, plans what waits (a planner workflow starting one wave), and its handheld
    finishes the wave's task (the signal houtai's scan route sends). Runs until cancelled."""

    async def one(warehouse: str) -> None:
        while True:
            if taken := FLOOR.waiting.pop(warehouse, []):
                wave_id = uuid.uuid4().hex
                await client.execute_workflow(
                    FloorWavePlannerWorkflow.run,
                    FloorPlanInput(warehouse, wave_id, taken),
                    id=f"floor-plan-{warehouse}-{wave_id}",
                    task_queue=queue,
                )
                wave = client.get_workflow_handle(f"floor-wave-{wave_id}")
                await wave.signal(FloorWaveWorkflow.task_finished)
            await asyncio.sleep(every)

    await asyncio.gather(*(one(warehouse) for warehouse in warehouses))
