"""TransferWorkflow on a time-skipping server with fake activities under the real names: who may
approve (a manager of the SOURCE), release to the floor, the wave's word, shipping, a receipt
whose short and over follow from the counts, a resent receipt, cancel before shipping (picks
back, reservation released) and never after."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.worker import Worker

from models.contracts import messages
from models.contracts.order import Actor
from models.contracts.order import PackageLine as Picked
from models.contracts.transfers import (
    ReceivedLine,
    ShippedLine,
    ShipTransfer,
    TransferArrival,
    TransferDecision,
    TransferInput,
    TransferLine,
    TransferReceipt,
    TransferRelease,
    TransferShipment,
    TransferStaff,
    TransferStep,
    TransferView,
)
from models.contracts.waves import OutboundRequest, PackagePicked, PicksCancelled
from tests.support.temporal import time_skipping_server
from tests.workflows.fakes import WAIT_S
from workflows.transfer import PICKED_WAIT, TransferWorkflow

SH, GZ = 1, 2
DEVICE = Actor(kind="device", name="gz-rf-1")


def person(user_id: int, warehouses: list[int] | None, *roles: str) -> TransferStaff:
    return TransferStaff(
        actor=Actor(kind="user", name=f"user-{user_id}", role=",".join(roles)),
        user_id=user_id,
        roles=frozenset(roles),
        warehouses=warehouses,
    )


OPS = person(1, None, "ops")
SH_MANAGER = person(2, [SH], "warehouse_manager")
GZ_MANAGER = person(3, [GZ], "warehouse_manager")


class FakeFloor:
    """The transfer's activities and the two wave activities it calls, recording each call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []
        self._changed = asyncio.Condition()
        self.shipped: list[ShippedLine] = []

    def of(self, name: str) -> list[Any]:
        return [arg for called, arg in self.calls if called == name]

    def steps(self) -> list[str]:
        return [step.step for step in self.of("record_transfer_step")]

    async def wait_for(self, name: str, match: Callable[[Any], bool] = lambda _: True) -> Any:
        async with asyncio.timeout(WAIT_S), self._changed:
            await self._changed.wait_for(lambda: any(match(a) for a in self.of(name)))
        return next(a for a in self.of(name) if match(a))

    async def _record(self, name: str, arg: Any) -> None:
        self.calls.append((name, arg))
        async with self._changed:
            self._changed.notify_all()

    @activity.defn(name="record_transfer_step")
    async def record_transfer_step(self, step: TransferStep) -> None:
        await self._record("record_transfer_step", step)

    @activity.defn(name="release_transfer_stock")
    async def release_transfer_stock(self, request: TransferRelease) -> int:
        await self._record("release_transfer_stock", request)
        return 5

    @activity.defn(name="ship_transfer")
    async def ship_transfer(self, request: TransferShipment) -> list[ShippedLine]:
        await self._record("ship_transfer", request)
        return self.shipped

    @activity.defn(name="receive_transfer")
    async def receive_transfer(self, arrival: TransferArrival) -> None:
        await self._record("receive_transfer", arrival)

    @activity.defn(name="register_outbound")
    async def register_outbound(self, request: OutboundRequest) -> None:
        await self._record("register_outbound", request)

    @activity.defn(name="cancel_picks")
    async def cancel_picks(self, package_no: str) -> PicksCancelled:
        await self._record("cancel_picks", package_no)
        return PicksCancelled(wave_no=None, returned_units=3)


class Scenario:
    def __init__(self, handle: WorkflowHandle[TransferWorkflow, TransferView], floor: FakeFloor):
        self.handle = handle
        self.floor = floor
        self.number = handle.id.removeprefix("transfer-")

    async def approve(self, by: TransferStaff) -> TransferView:
        return await self.handle.execute_update(TransferWorkflow.approve, TransferDecision(by=by))

    async def picked(self, *lines: Picked, missing: tuple[Picked, ...] = ()) -> None:
        await self.handle.signal(
            messages.PICKED,
            PackagePicked(
                package_no=self.number, wave_no="WV1", picked=list(lines), missing=list(missing)
            ),
        )
        await self.floor.wait_for("record_transfer_step", lambda s: s.step == "picked")

    async def ship(self) -> TransferView:
        return await self.handle.execute_update(
            TransferWorkflow.ship, ShipTransfer(by=SH_MANAGER.actor)
        )

    async def receive(self, key: str, *lines: ReceivedLine) -> TransferView:
        return await self.handle.execute_update(
            TransferWorkflow.receive,
            TransferReceipt(receipt_key=key, lines=list(lines), actor=DEVICE),
        )

    async def cancel(self, by: TransferStaff, reason: str = "不调了") -> TransferView:
        decision = TransferDecision(by=by, reason=reason)
        return await self.handle.execute_update(TransferWorkflow.cancel, decision)


@asynccontextmanager
async def running(task_queue: str) -> AsyncIterator[Scenario]:
    async with _running(task_queue) as (scenario, _):
        yield scenario


@asynccontextmanager
async def running_with_env(task_queue: str) -> AsyncIterator[tuple[Scenario, Any]]:
    async with _running(task_queue) as both:
        yield both


@asynccontextmanager
async def _running(task_queue: str) -> AsyncIterator[tuple[Scenario, Any]]:
    env = await time_skipping_server()
    floor = FakeFloor()
    try:
        async with Worker(
            env.client,
            task_queue=task_queue,
            workflows=[TransferWorkflow],
            activities=[
                floor.record_transfer_step,
                floor.release_transfer_stock,
                floor.ship_transfer,
                floor.receive_transfer,
                floor.register_outbound,
                floor.cancel_picks,
            ],
        ):
            handle = await env.client.start_workflow(
                TransferWorkflow.run,
                TransferInput(
                    transfer_no="TR20261206000001",
                    from_warehouse_id=SH,
                    to_warehouse_id=GZ,
                    carrier_code="SF",
                    lines=[
                        TransferLine(line_no=1, sku_id=11, quantity=5),
                        TransferLine(line_no=2, sku_id=12, quantity=2),
                    ],
                    requested_by=OPS,
                ),
                id="transfer-TR20261206000001",
                task_queue=task_queue,
                task_timeout=timedelta(seconds=10),
            )
            await floor.wait_for("record_transfer_step", lambda s: s.step == "requested")
            yield Scenario(handle, floor), env
    finally:
        await env.shutdown()


async def refused(update: Any, kind: str) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as failed:
        await update
    cause: Any = failed.value.cause
    assert cause.type == kind, cause
    return str(cause.message)


async def test_a_transfer_from_request_to_closed_with_short_over_and_damaged(
    task_queue: str,
) -> None:
    async with running(task_queue) as tr:
        # Only a manager of the source decides: not ops, not the destination's manager.
        await refused(tr.approve(OPS), "ApprovalError")
        assert "outside your warehouses" in await refused(tr.approve(GZ_MANAGER), "ApprovalError")
        assert tr.floor.of("register_outbound") == []
        approved = await tr.approve(SH_MANAGER)
        assert approved.status == "approved"
        [released] = tr.floor.of("register_outbound")
        assert (released.package_no, released.warehouse_id, released.carrier_code) == (
            tr.number, SH, "SF",
        )  # fmt: skip

        # The wave's word: line 1 all picked, line 2 one found, one missing.
        await tr.picked(
            Picked(line_no=1, sku_id=11, quantity=5),
            Picked(line_no=2, sku_id=12, quantity=1),
            missing=(Picked(line_no=2, sku_id=12, quantity=1),),
        )
        view = await tr.handle.query(TransferWorkflow.view)
        assert [(ln.picked) for ln in view.lines] == [5, 1] and view.wave_no == "WV1"

        tr.floor.shipped = [
            ShippedLine(line_no=1, sku_id=11, quantity=5),
            ShippedLine(line_no=2, sku_id=12, quantity=1),
        ]
        shipped = await tr.ship()
        assert shipped.status == "in_transit"
        assert [ln.shipped for ln in shipped.lines] == [5, 1]
        assert tr.floor.of("ship_transfer")[0].to_warehouse_id == GZ
        await refused(tr.cancel(SH_MANAGER), "InvalidStateError")  # shipped: too late

        # GZ counts line 1: 3 good + 1 damaged (1 short); line 2: 2 good (1 over).
        await refused(tr.receive("r1", ReceivedLine(line_no=9, good=1)), "InvalidInputError")
        closed = await tr.receive(
            "r1", ReceivedLine(line_no=1, good=3, damaged=1), ReceivedLine(line_no=2, good=2)
        )
        assert closed.status == "closed"
        counted = [(ln.good, ln.damaged, ln.short, ln.over) for ln in closed.lines]
        assert counted == [(3, 1, 1, 0), (2, 0, 0, 1)]
        [arrival] = tr.floor.of("receive_transfer")
        assert [(ln.shipped, ln.short, ln.over) for ln in arrival.lines] == [(5, 1, 0), (1, 0, 1)]

        async with asyncio.timeout(WAIT_S):
            final = await tr.handle.result()
        assert final == closed and len(tr.floor.of("receive_transfer")) == 1
        assert tr.floor.steps() == [
            "requested", "approved", "picked", "shipped", "received", "closed",
        ]  # fmt: skip
        assert tr.floor.of("release_transfer_stock") == []


async def test_rejected_releases_the_reservation_and_ends(task_queue: str) -> None:
    async with running(task_queue) as tr:
        decision = TransferDecision(by=SH_MANAGER, reason="")
        await refused(
            tr.handle.execute_update(TransferWorkflow.reject, decision), "InvalidInputError"
        )
        decision = TransferDecision(by=SH_MANAGER, reason="源仓库存要留给大促")
        rejected = await tr.handle.execute_update(TransferWorkflow.reject, decision)
        assert rejected.status == "rejected" and rejected.reason == "源仓库存要留给大促"
        assert [r.transfer_no for r in tr.floor.of("release_transfer_stock")] == [tr.number]
        assert tr.floor.of("register_outbound") == []
        async with asyncio.timeout(WAIT_S):
            assert (await tr.handle.result()).status == "rejected"


async def test_cancelled_on_the_floor_puts_picks_back_then_releases(task_queue: str) -> None:
    async with running(task_queue) as tr:
        await tr.approve(SH_MANAGER)
        await tr.picked(Picked(line_no=1, sku_id=11, quantity=5),
                        Picked(line_no=2, sku_id=12, quantity=2))  # fmt: skip
        cancelled = await tr.cancel(OPS)
        assert cancelled.status == "cancelled"
        names = [name for name, _ in tr.floor.calls if name != "record_transfer_step"]
        assert names[-2:] == ["cancel_picks", "release_transfer_stock"]
        async with asyncio.timeout(WAIT_S):
            assert (await tr.handle.result()).status == "cancelled"
        assert tr.floor.of("ship_transfer") == []


async def test_shipping_waits_for_the_waves_word_and_gives_up_after_its_wait(
    task_queue: str,
) -> None:
    """The floor may show the transfer picked before its wave has told it: ship waits for the
    wave's word (read-your-writes), and past PICKED_WAIT without it, is refused."""
    async with running_with_env(task_queue) as (tr, env):
        await tr.approve(SH_MANAGER)
        tr.floor.shipped = [ShippedLine(line_no=1, sku_id=11, quantity=5)]
        early = asyncio.create_task(tr.ship())
        await asyncio.sleep(0.5)  # the update is in, waiting for the wave
        assert tr.floor.of("ship_transfer") == []
        await tr.picked(Picked(line_no=1, sku_id=11, quantity=5),
                        missing=(Picked(line_no=2, sku_id=12, quantity=2),))  # fmt: skip
        async with asyncio.timeout(WAIT_S):
            shipped = await early
        assert shipped.status == "in_transit" and len(tr.floor.of("ship_transfer")) == 1

    async with running_with_env(task_queue) as (tr, env):
        await tr.approve(SH_MANAGER)
        late = asyncio.create_task(tr.ship())
        await asyncio.sleep(0.5)
        await env.sleep(PICKED_WAIT + timedelta(seconds=5))  # the wave never says picked
        assert "has not picked" in await refused(late, "InvalidStateError")
        assert tr.floor.of("ship_transfer") == []
