"""Answers are promises (DESIGN §6, issue 12 items 5 and 7): what the API answered and what it
shows holds for the next command, at once, also while the worker restarts; and a packed package
cancelled before handover voids its waybill at the carrier, once, and shows it."""

from __future__ import annotations

import httpx

from tests.support.order_api import (
    DEVICE,
    events_of,
    only_in,
    paid_order,
    wait_package,
)
from tests.support.orders import SHOP
from tests.support.picking import pick_package
from tests.support.stack import Stack

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
