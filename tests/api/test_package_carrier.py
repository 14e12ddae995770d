"""Packages and the carrier over the whole back office: the carrier's waybill survives timeouts
and retries, and a tracking push arriving while the previous one is recorded still counts."""

from __future__ import annotations

import httpx
from sqlalchemy import select, text

from models.db import Package
from tests.support.order_api import (
    DEVICE,
    events_of,
    only_in,
    package,
    package_row,
    paid_order,
    recorded,
    track,
    view,
    wait_package,
)
from tests.support.orders import eventually, pack_and_hand_over
from tests.support.picking import pick_package
from tests.support.stack import Stack

# --- waybills --------------------------------------------------------------------------------


async def test_the_waybill_is_the_carriers_one_after_timeouts_and_retries(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    order = await paid_order(stack, api, [(await only_in(stack, "SH01"), 1)])
    number = order["packages"][0]["package_no"]
    device = DEVICE["SH01"]
    expected = (await package(api, number, device))["expected_weight_g"]
    # The carrier does the work, then answers too late for our client (10 s timeout).
    await pick_package(api, order["packages"][0])
    stall = {"timeout_rate": 1.0, "stall_ms": 15_000}
    assert (await carrier.put("/_sandbox/faults", json=stall)).status_code == 200
    packed = await api.post(
        f"/v1/packages/{number}/pack", json={"measured_weight_g": expected}, headers=device
    )
    assert packed.status_code == 200, packed.text
    handle = stack.client.get_workflow_handle(f"shipment-{number}")

    async def waybill_call_failed() -> bool:
        pending = (await handle.describe()).raw_description.pending_activities
        return any(
            a.activity_type.name == "create_waybill" and a.HasField("last_failure") for a in pending
        )

    await eventually(waybill_call_failed, "the first waybill call to time out", seconds=60)
    assert (await carrier.put("/_sandbox/faults", json={})).status_code == 200

    waybilled = await wait_package(api, number, "waybill_created", device)
    steps = [e[0] for e in await recorded(stack, number, "waybill_created")]
    assert steps.count("waybill_created") == 1  # one waybill, however many calls it took

    party = {"name": "王五", "phone": "13700000000", "region_code": "310112", "address": "y"}
    again = await carrier.post(
        "/v1/waybills",
        json={
            "package_key": number,
            "carrier_service": "standard",
            "sender": party,
            "receiver": party,
            "weight_g": 1,
        },
    )
    assert again.status_code == 200, again.text  # 200: the carrier already had this package's
    assert (again.json()["waybill_no"], again.json()["tracking_no"]) == (
        waybilled["waybill_no"],
        waybilled["tracking_no"],
    )
    tracking = await carrier.get(f"/v1/tracking/{waybilled['tracking_no']}")
    assert tracking.json()["waybill_no"] == waybilled["waybill_no"]
    shown = await package(api, number, device)
    assert (shown["waybill_no"], shown["tracking_no"]) == (
        waybilled["waybill_no"],
        waybilled["tracking_no"],
    )
    row = await package_row(stack, number)
    assert (row.waybill_no, row.tracking_no) == (waybilled["waybill_no"], waybilled["tracking_no"])
    handed = await api.post(f"/v1/packages/{number}/handover", headers=device)
    assert handed.status_code == 200, handed.text


# --- tracking --------------------------------------------------------------------------------


async def test_a_push_arriving_while_the_previous_one_is_recorded_still_counts(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    order = await paid_order(stack, api, [(await only_in(stack, "SH01"), 1)])
    number = order["packages"][0]["package_no"]
    device = DEVICE["SH01"]
    tracking_no = await pack_and_hand_over(api, order["packages"][0])
    handle = stack.client.get_workflow_handle(f"shipment-{number}")

    async def pending() -> list[str]:
        described = await handle.describe()
        return [a.activity_type.name for a in described.raw_description.pending_activities]

    async def settled_as_shipped() -> bool:
        return (await package_row(stack, number)).status == "shipped" and not await pending()

    await eventually(settled_as_shipped, "the handover recorded")

    async def accepted_pushes() -> int:
        sent = (await carrier.get("/_sandbox/deliveries")).json()
        return sum(1 for d in sent if d["status_code"] == 200)

    async def recording() -> bool:
        """The worker's write of the first push waits on our lock (a local activity is not
        listed among the workflow's pending activities: PostgreSQL shows it instead)."""
        async with stack.sessions() as session:
            waiting = await session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND query ILIKE '%UPDATE packages%'"
                )
            )
        return bool(waiting)

    # Hold the package row so that recording the first push takes a while, as under load.
    before = await accepted_pushes()
    async with stack.sessions() as blocker:
        await blocker.execute(
            select(Package.package_no).where(Package.package_no == number).with_for_update()
        )
        await track(carrier, tracking_no, "picked_up")
        await eventually(recording, "the first push being recorded")
        await track(carrier, tracking_no, "delivered")

        async def second_push_accepted() -> bool:  # taken by the server, the write still held
            return await accepted_pushes() == before + 2

        await eventually(second_push_accepted, "the second push accepted")
        await blocker.rollback()

    async def delivered() -> bool:
        return bool((await view(api, order["order_no"]))["status"] == "delivered")

    await eventually(delivered, "the order delivered")
    shown = await package(api, number, device)
    assert [e["code"] for e in shown["tracking_events"]] == ["picked_up", "delivered"]
    assert shown["status"] == "delivered"
    row = await package_row(stack, number)
    assert [e["code"] for e in row.tracking_events] == ["picked_up", "delivered"]
    assert row.status == "delivered"
    tracked = [e[3]["code"] for e in await events_of(stack, number) if e[0] == "tracking"]
    assert tracked[-1] == "delivered"
