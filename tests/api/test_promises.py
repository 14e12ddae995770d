"""Answers are promises (DESIGN §6, issue 12 items 5 and 7): what the API answered and what it
shows holds for the next command, at once, also while the worker restarts; and a packed package
cancelled before handover voids its waybill at the carrier, once, and shows it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from models.db import OutboundOrder
from tests.support.after_sale_api import delivered
from tests.support.order_api import (
    DEVICE,
    RECEIVER,
    Json,
    events_of,
    http,
    only_in,
    order_body,
    package,
    paid_order,
    pay,
    place_order,
    staff,
    wait_package,
)
from tests.support.orders import SHOP, deliver, pack_and_hand_over
from tests.support.picking import claim, pick_package, pick_task, plan_now
from tests.support.stack import Stack
from tests.support.worker_process import WorkerProcess

# --- item 5: what the API answered and shows holds for the next command ---------------------


async def _picked_to_pack(stack: Stack, api: httpx.AsyncClient) -> tuple[str, Json]:
    """A paid single-unit package picked in its wave: its number and the last scan's answer."""
    order = await paid_order(stack, api, [(await only_in(stack, "SH01"), 1)])
    [parcel] = order["packages"]
    await plan_now(api, parcel["warehouse_id"])
    task = await claim(api, DEVICE["SH01"])
    assert task is not None
    return parcel["package_no"], await pick_task(api, DEVICE["SH01"], task)


async def _pack(api: httpx.AsyncClient, number: str) -> httpx.Response:
    shown = await package(api, number, DEVICE["SH01"])
    return await api.post(
        f"/v1/packages/{number}/pack",
        headers=DEVICE["SH01"],
        json={"measured_weight_g": shown["expected_weight_g"]},
    )


async def test_a_device_told_to_pack_packs_at_once(stack: Stack, api: httpx.AsyncClient) -> None:
    number, last = await _picked_to_pack(stack, api)
    assert last["next"]["action"] == "pack"

    packed = await _pack(api, number)  # at once: no waiting for the wave to tell the package

    assert packed.status_code == 200, packed.text
    assert packed.json()["status"] in ("packed", "waybill_created")
    labelled = await wait_package(api, number, "waybill_created", DEVICE["SH01"])
    assert labelled["measured_weight_g"] == labelled["expected_weight_g"]
    steps = [step for step, *_ in await events_of(stack, number)]
    assert steps.index("picked") < steps.index("packed")


@pytest.fixture
def worker(stack: Stack, tmp_path: Path) -> Iterator[WorkerProcess]:
    process = WorkerProcess(stack.worker_env(), tmp_path / "worker.log")
    process.start()
    yield process
    process.stop()


@pytest.mark.parametrize("stack", [{"in_process_worker": False}], indirect=True)
async def test_a_device_told_to_pack_packs_while_the_worker_restarts(
    stack: Stack, api: httpx.AsyncClient, worker: WorkerProcess
) -> None:
    number, last = await _picked_to_pack(stack, api)
    assert last["next"]["action"] == "pack"
    worker.stop()  # between the answer and the next command
    worker.start()

    packed = await _pack(api, number)

    assert packed.status_code == 200, packed.text
    assert packed.json()["status"] in ("packed", "waybill_created")
    await wait_package(api, number, "waybill_created", DEVICE["SH01"])


async def _after_sale_answered(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> str:
    """A refund-only after-sale opened on a delivered order: its number, as answered 201."""
    order = await delivered(stack, api, carrier, [(await only_in(stack, "SH01"), 2)])
    body = {
        "client_request_key": "promise-1",
        "type": "refund_only",
        "lines": [{"line_no": 1, "quantity": 1}],
        "reason": "质量问题",
    }
    opened = await api.post(f"/v1/orders/{order['order_no']}/after-sales", headers=SHOP, json=body)
    assert opened.status_code == 201, opened.text
    return str(opened.json()["as_no"])


async def _shown_and_decided(api: httpx.AsyncClient, as_no: str) -> None:
    shown = await api.get(f"/v1/after-sales/{as_no}", headers=SHOP)  # at once
    assert shown.status_code == 200, shown.text
    assert shown.json()["status"] == "requested"
    cs = await staff(api, "cs")
    decided = await api.post(
        f"/v1/after-sales/{as_no}/decision", headers=cs, json={"approve": True}
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] in ("approved", "refunding", "refunded", "completed")
    assert str(decided.json()["decided_by"]).startswith("user:")  # cs decided, not the SLA


async def test_an_after_sale_answered_201_is_shown_and_decided_at_once(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    await _shown_and_decided(api, await _after_sale_answered(stack, api, carrier))


@pytest.mark.parametrize("stack", [{"in_process_worker": False}], indirect=True)
async def test_an_after_sale_answered_201_is_decided_while_the_worker_restarts(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient, worker: WorkerProcess
) -> None:
    as_no = await _after_sale_answered(stack, api, carrier)
    worker.stop()  # between the answer and the next command
    worker.start()
    await _shown_and_decided(api, as_no)


async def _shown_delivered(stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient) -> str:
    """An order delivered by the carrier, at the first view that shows every package delivered
    (as a storefront waiting on the order sees it): its number."""
    order = await paid_order(stack, api, [(await only_in(stack, "SH01"), 1)])
    [parcel] = order["packages"]
    await deliver(carrier, await pack_and_hand_over(api, parcel))
    path = f"/v1/orders/{order['order_no']}"
    seen = (await api.get(path, headers=SHOP)).headers["etag"]
    for _ in range(30):  # every change of the order
        answer = await api.get(path, headers={**SHOP, "If-None-Match": seen, "Prefer": "wait=20"})
        seen = answer.headers["etag"]
        if answer.status_code == 200 and all(
            p["status"] == "delivered" for p in answer.json()["packages"]
        ):
            return str(order["order_no"])
    raise AssertionError("the order never showed its package delivered")


async def test_an_order_shown_delivered_takes_confirm_receipt_at_once(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    order_no = await _shown_delivered(stack, api, carrier)

    confirmed = await api.post(f"/v1/orders/{order_no}/confirm-receipt", headers=SHOP)

    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] in ("completed", "closed")
    assert "completed" in [e["step"] for e in confirmed.json()["timeline"]]


@pytest.mark.parametrize("stack", [{"in_process_worker": False}], indirect=True)
async def test_an_order_shown_delivered_takes_confirm_receipt_while_the_worker_restarts(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient, worker: WorkerProcess
) -> None:
    order_no = await _shown_delivered(stack, api, carrier)
    worker.stop()  # between the view and the next command
    worker.start()

    confirmed = await api.post(f"/v1/orders/{order_no}/confirm-receipt", headers=SHOP)

    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] in ("completed", "closed")


async def test_a_package_shown_released_is_planned_at_once(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    body = order_body(
        [{"sku_id": await only_in(stack, "SH01"), "quantity": 1}], key="plan-1", address=RECEIVER
    )
    order_no = (await place_order(api, body))["order_no"]
    path = f"/v1/orders/{order_no}"
    seen = (await api.get(path, headers=SHOP)).headers["etag"]
    async with http(stack.payments) as provider:
        await pay(api, provider, order_no)
    for _ in range(30):  # every change of the order, as the storefront waiting on it sees it
        answer = await api.get(path, headers={**SHOP, "If-None-Match": seen, "Prefer": "wait=20"})
        seen = answer.headers["etag"]
        packages = answer.json()["packages"] if answer.status_code == 200 else []
        if packages and all(p["status"] == "released" for p in packages):
            break
    else:
        raise AssertionError("the order never showed its package released")
    [parcel] = packages

    waves = await plan_now(api, parcel["warehouse_id"])  # at once

    async with stack.sessions() as session:
        outbound = await session.get(OutboundOrder, parcel["package_no"])
    assert outbound is not None and outbound.status == "planned"
    assert outbound.wave_no in [wave["wave_no"] for wave in waves]


# --- item 7: cancelling a packed package voids its waybill -----------------------------------


async def test_cancelling_a_packed_order_voids_its_waybill_at_the_carrier_once(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    order = await paid_order(stack, api, [(await only_in(stack, "SH01"), 1)])
    [parcel] = order["packages"]
    number = parcel["package_no"]
    shown = await pick_package(api, parcel)
    packed = await api.post(
        f"/v1/packages/{number}/pack",
        headers=DEVICE["SH01"],
        json={"measured_weight_g": shown["expected_weight_g"]},
    )
    assert packed.status_code == 200, packed.text
    labelled = await wait_package(api, number, "waybill_created", DEVICE["SH01"])
    waybill_no = labelled["waybill_no"]
    assert labelled["waybill_cancelled_at"] is None

    cancelled = await api.post(
        f"/v1/orders/{order['order_no']}/cancel", headers=SHOP, json={"reason": "changed my mind"}
    )
    assert cancelled.status_code == 200, cancelled.text

    gone = await wait_package(api, number, "cancelled", DEVICE["SH01"])
    books = await carrier.get(f"/_sandbox/waybills/{waybill_no}")
    assert books.status_code == 200, books.text
    assert books.json()["waybill"]["status"] == "cancelled"
    assert books.json()["cancel_requests"] == 1
    assert gone["waybill_no"] == waybill_no
    assert gone["waybill_cancelled_at"] is not None
    steps = [step for step, *_ in await events_of(stack, number)]
    assert steps.index("waybill_cancelled") < steps.index("cancelled")
    assert steps.count("waybill_cancelled") == 1


async def test_a_waybill_cancelled_again_is_still_cancelled_once(
    stack: Stack, carrier: httpx.AsyncClient
) -> None:
    """The adapter's cancel is idempotent: a retry after a lost answer is success and the
    carrier's waybill stays cancelled as at the first call."""
    from activities.providers import SandboxCarrier
    from models.contracts.order import ShippingAddress

    party = ShippingAddress(
        name="上海仓", phone="4000000000", region_code="310115", detail="世纪大道 1 号"
    )
    adapter = SandboxCarrier(stack.carrier, timeout_s=5)
    try:
        made = await adapter.create_waybill(
            package_no="PK-void-twice",
            sender=party,
            receiver=party,
            weight_g=500,
            tracking_no=None,
            subscribe_url=None,
        )
        await adapter.cancel_waybill(made.waybill_no)
        first = (await carrier.get(f"/_sandbox/waybills/{made.waybill_no}")).json()
        await adapter.cancel_waybill(made.waybill_no)
        again = (await carrier.get(f"/_sandbox/waybills/{made.waybill_no}")).json()
    finally:
        await adapter.aclose()
    assert first["waybill"]["status"] == again["waybill"]["status"] == "cancelled"
    assert again["waybill"]["cancelled_at"] == first["waybill"]["cancelled_at"] is not None
    assert again["cancel_requests"] == 2
