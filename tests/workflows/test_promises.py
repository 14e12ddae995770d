"""Read-your-writes in the workflows (DESIGN §6, issue 12 item 5): a pack the floor's records
allow (every unit picked, the device told `next: pack`) is taken while the wave is still telling
the package, and waits for it; never told, it is refused after PICKED_WAIT, never packed. A
receipt confirmed while the view shows every package delivered is taken while the order still
says fulfilling, and waits for the order to hear from its package."""

from __future__ import annotations

from datetime import timedelta

from temporalio.client import WorkflowUpdateStage

from models.contracts.order import ConfirmReceipt
from models.contracts.shipment import PackRequest
from tests.workflows.fakes import CUSTOMER, DEVICE
from tests.workflows.scenario import rejection, running
from workflows.order import OrderWorkflow
from workflows.shipment import PICKED_WAIT, ShipmentWorkflow


async def test_a_pack_the_floor_allows_waits_for_the_waves_word(task_queue: str) -> None:
    async with running(task_queue) as order:
        await order.place()
        await order.pay()
        plan = order.fake.plans[0]
        number = plan.package_no
        await order.fake.wait_step(number, "released")
        request = PackRequest(actor=DEVICE, measured_weight_g=plan.weight_g, picked_on_floor=True)
        shipment = order.shipment(number)
        refused = await rejection(  # what the device did not hear from the floor stays refused
            shipment.execute_update(
                ShipmentWorkflow.pack, request.model_copy(update={"picked_on_floor": False})
            )
        )
        early = await shipment.start_update(
            ShipmentWorkflow.pack, request, wait_for_stage=WorkflowUpdateStage.ACCEPTED
        )
        await order.picked(number)  # the wave's word comes after the pack
        packed = await early.result()
    assert "not picked yet" in refused.message
    assert packed.status in ("packed", "waybill_created")
    assert packed.measured_weight_g == plan.weight_g
    # the order the workflow took the steps in (its seq), not the order the activities that
    # record them happened to run in: those two run side by side, the projection keeps by seq
    seq = {s.step: s.seq for s in order.fake.of("record_shipment_step") if s.package_no == number}
    assert seq["picked"] < seq["packed"]
    assert order.fake.steps(number).count("packed") == 1


async def test_a_pack_the_wave_never_confirms_is_refused_and_nothing_is_packed(
    task_queue: str,
) -> None:
    async with running(task_queue) as order:
        await order.place()
        await order.pay()
        plan = order.fake.plans[0]
        number = plan.package_no
        await order.fake.wait_step(number, "released")
        request = PackRequest(actor=DEVICE, measured_weight_g=plan.weight_g, picked_on_floor=True)
        lonely = await order.shipment(number).start_update(
            ShipmentWorkflow.pack, request, wait_for_stage=WorkflowUpdateStage.ACCEPTED
        )
        await order.skip(PICKED_WAIT + timedelta(seconds=5))
        refused = await rejection(lonely.result())
        view = await order.shipment(number).query(ShipmentWorkflow.view)
    assert refused.type == "InvalidStateError"
    assert "has not picked" in refused.message
    assert view.status == "released"
    assert "packed" not in order.fake.steps(number)


async def test_a_receipt_confirmed_as_the_view_shows_delivered_waits_for_the_order(
    task_queue: str,
) -> None:
    async with running(task_queue) as order:
        await order.place()
        await order.pay()
        number = order.fake.plans[0].package_no
        await order.pack(number)
        await order.hand_over(number)
        not_shown = await rejection(  # the view shows nothing delivered: refused as before
            order.handle.execute_update(
                OrderWorkflow.confirm_receipt, ConfirmReceipt(actor=CUSTOMER)
            )
        )
        shown = ConfirmReceipt(actor=CUSTOMER, delivered_packages=[number])
        early = await order.handle.start_update(
            OrderWorkflow.confirm_receipt, shown, wait_for_stage=WorkflowUpdateStage.ACCEPTED
        )
        await order.push(number, "collected", "delivered")
        confirmed = await early.result()
    assert not_shown.message == "order is fulfilling"
    assert confirmed.status in ("completed", "closed")
    completed = [e for e in confirmed.timeline if e.step == "completed"]
    assert [e.actor for e in completed] == [CUSTOMER]
