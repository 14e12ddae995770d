"""Package routes over the whole back office: devices act only in their own warehouse, the
weight check holds a package for a manager, handover needs a waybill, a lost parcel is refunded
by its value when staff decide so, and the carrier's waybill survives timeouts and retries."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest_asyncio
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client

from models.db import MoneyEntry, Package, Refund, Reservation, Warehouse
from tests.support.invariants import assert_stock_invariants
from tests.support.stack import Stack, running_stack
from workers.seed import DEMO_DEVICE_KEYS, DEMO_PASSWORD, DEMO_STOREFRONT_KEY

SHOP = {"X-API-Key": DEMO_STOREFRONT_KEY}
DEVICE = {code: {"X-API-Key": key} for code, key in DEMO_DEVICE_KEYS.items()}
ADDRESS = {
    "name": "王五",
    "phone": "13700000000",
    "region_code": "310112",
    "detail": "闵行区七莘路 300 号",
}
Json = dict[str, Any]
Headers = dict[str, str]


@pytest_asyncio.fixture
async def stack(
    seeded_engine: AsyncEngine, dev_client: Client, task_queue: str
) -> AsyncIterator[Stack]:
    async with running_stack(seeded_engine, dev_client, task_queue) as running:
        await unique_order_numbers(running)
        yield running


# Every test gets a fresh database (its order number sequence starts at 1) but the session
# shares one Temporal server, where `order-SO…` of an earlier test may still be running: start
# this module's numbers in a range of their own so workflow ids never meet.
_first_numbers = itertools.count(1_300_000_000, 10_000)


async def unique_order_numbers(stack: Stack) -> None:
    async with stack.sessions() as session:
        await session.execute(
            text("SELECT setval('order_no_seq', :first)"), {"first": next(_first_numbers)}
        )
        await session.commit()


@pytest_asyncio.fixture
async def api(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.api, timeout=30) as client:
        yield client


@pytest_asyncio.fixture
async def carrier(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.carrier, timeout=30) as client:
        yield client


# --- helpers ---------------------------------------------------------------------------------


async def eventually(check: Callable[[], Awaitable[Any]], what: str, seconds: float = 30) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.25)


async def staff(api: httpx.AsyncClient, role: str) -> Headers:
    answer = await api.post("/v1/auth/login", json={"username": role, "password": DEMO_PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def only_in(stack: Stack, code: str) -> int:
    """A SKU with plenty of sellable units in warehouse `code` and none anywhere else."""
    async with stack.sessions() as session:
        sku = await session.scalar(
            text(
                "SELECT s.sku_id FROM stocks s JOIN warehouses w ON w.id = s.warehouse_id "
                "WHERE w.code = :code AND s.on_hand - s.reserved - s.safety_hold >= 10 "
                "AND NOT EXISTS (SELECT 1 FROM stocks o WHERE o.sku_id = s.sku_id "
                "                AND o.warehouse_id <> s.warehouse_id AND o.on_hand > 0) "
                "ORDER BY s.sku_id LIMIT 1"
            ),
            {"code": code},
        )
    assert sku is not None
    return int(sku)


async def view(api: httpx.AsyncClient, order_no: str) -> Json:
    answer = await api.get(f"/v1/orders/{order_no}", headers=SHOP)
    assert answer.status_code == 200, answer.text
    order: Json = answer.json()
    return order


async def paid_order(
    stack: Stack, api: httpx.AsyncClient, lines: list[tuple[int, int]], key: str = "cart-1"
) -> Json:
    """Place and pay an order; answer it once every package is released to its warehouse."""
    body = {
        "client_order_key": key,
        "customer_id": 31,
        "address": ADDRESS,
        "lines": [{"sku_id": sku, "quantity": quantity} for sku, quantity in lines],
    }
    placed = await api.post("/v1/orders", json=body, headers=SHOP)
    assert placed.status_code == 201, placed.text
    number = placed.json()["order_no"]
    payment = await api.post(f"/v1/orders/{number}/payments", headers=SHOP)
    assert payment.status_code == 201, payment.text
    async with httpx.AsyncClient(base_url=stack.payments, timeout=30) as provider:
        paid = await provider.post(
            f"/v1/payments/{payment.json()['payment_id']}/simulate", json={"outcome": "succeeded"}
        )
    assert paid.status_code == 200, paid.text

    async def released() -> Json | None:
        order = await view(api, number)
        ready = order["paid_fen"] > 0 and all(p["status"] == "released" for p in order["packages"])
        return order if ready else None

    order: Json = await eventually(released, f"order {number} released to the warehouses")
    return order


async def package(api: httpx.AsyncClient, number: str, headers: Headers) -> Json:
    answer = await api.get(f"/v1/packages/{number}", headers=headers)
    assert answer.status_code == 200, answer.text
    found: Json = answer.json()
    return found


async def wait_package(api: httpx.AsyncClient, number: str, status: str, headers: Headers) -> Json:
    async def reached() -> Json | None:
        found = await package(api, number, headers)
        return found if found["status"] == status else None

    found: Json = await eventually(reached, f"package {number} {status}")
    return found


def problem(answer: httpx.Response, status: int) -> Json:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json"), answer.text
    body: Json = answer.json()
    assert body["status"] == status
    return body


async def package_row(stack: Stack, number: str) -> Package:
    async with stack.sessions() as session:
        row = await session.get(Package, number)
    assert row is not None
    return row


async def events_of(stack: Stack, number: str) -> list[tuple[str, str, str, dict[str, Any]]]:
    """(step, actor kind, actor name, detail) of the package's timeline rows, in order."""
    async with stack.sessions() as session:
        rows = await session.execute(
            text(
                "SELECT step, actor_kind, actor_name, detail FROM order_events "
                "WHERE package_no = :number ORDER BY id"
            ),
            {"number": number},
        )
        return [(r[0], r[1], r[2], dict(r[3])) for r in rows]


async def recorded(stack: Stack, number: str, step: str) -> list[tuple[str, str, str, Json]]:
    """The package's timeline once `step` is in it (the projection trails the workflow)."""

    async def written() -> list[tuple[str, str, str, Json]] | None:
        found = await events_of(stack, number)
        return found if step in [e[0] for e in found] else None

    found: list[tuple[str, str, str, Json]] = await eventually(written, f"{number} {step} recorded")
    return found


async def ship(api: httpx.AsyncClient, number: str, device: Headers) -> Json:
    """Pack at the expected weight, wait for the waybill, hand over to the carrier."""
    expected = (await package(api, number, device))["expected_weight_g"]
    packed = await api.post(
        f"/v1/packages/{number}/pack", json={"measured_weight_g": expected}, headers=device
    )
    assert packed.status_code == 200, packed.text
    await wait_package(api, number, "waybill_created", device)
    handed = await api.post(f"/v1/packages/{number}/handover", headers=device)
    assert handed.status_code == 200, handed.text
    shipped: Json = handed.json()
    assert shipped["status"] == "shipped"
    return shipped


async def track(carrier: httpx.AsyncClient, tracking_no: str, *codes: str) -> None:
    for code in codes:
        pushed = await carrier.post(f"/_sandbox/tracking/{tracking_no}/events", json={"code": code})
        assert pushed.status_code == 201, pushed.text


# --- devices and warehouses ------------------------------------------------------------------


async def test_a_device_of_another_warehouse_is_refused(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    order = await paid_order(stack, api, [(await only_in(stack, "SH01"), 1)])
    [parcel] = order["packages"]
    number = parcel["package_no"]
    path = f"/v1/packages/{number}"
    stranger = DEVICE["GZ01"]

    problem(await api.get(path, headers=stranger), 403)
    problem(await api.post(f"{path}/pack", json={"measured_weight_g": 100}, headers=stranger), 403)
    problem(await api.post(f"{path}/handover", headers=stranger), 403)
    cs = await staff(api, "cs")
    problem(await api.post(f"{path}/pack", json={"measured_weight_g": 100}, headers=cs), 403)
    problem(await api.get("/v1/packages/PK000000000000", headers=DEVICE["SH01"]), 404)

    mine = await package(api, number, DEVICE["SH01"])
    assert (mine["status"], mine["measured_weight_g"]) == ("released", None)
    row = await package_row(stack, number)
    assert (row.status, row.measured_weight_g) == ("released", None)
    assert [e[0] for e in await events_of(stack, number)] == ["released"]


# --- the weight check and handover -----------------------------------------------------------


async def test_a_package_outside_the_weight_tolerance_waits_for_a_managers_override(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    order = await paid_order(stack, api, [(await only_in(stack, "SH01"), 2)])
    number = order["packages"][0]["package_no"]
    device = DEVICE["SH01"]
    path = f"/v1/packages/{number}"
    expected = (await package(api, number, device))["expected_weight_g"]
    assert expected > 0
    # Handing over before there is a waybill is refused (released, then held).
    problem(await api.post(f"{path}/handover", headers=device), 409)

    heavy = expected * 2 + 100
    held = await api.post(f"{path}/pack", json={"measured_weight_g": heavy}, headers=device)

    assert held.status_code == 200, held.text
    body = held.json()
    assert (body["status"], body["measured_weight_g"], body["waybill_no"]) == (
        "weight_hold",
        heavy,
        None,
    )
    assert str(heavy) in body["hold_reason"] and str(expected) in body["hold_reason"]
    row = await package_row(stack, number)
    assert (row.status, row.measured_weight_g, row.waybill_no) == ("weight_hold", heavy, None)
    problem(await api.post(f"{path}/handover", headers=device), 409)
    reason = {"reason": "复称确认，含赠品包装"}
    problem(await api.post(f"{path}/override-weight", json=reason, headers=device), 403)
    ops = await staff(api, "ops")
    problem(await api.post(f"{path}/override-weight", json=reason, headers=ops), 403)
    manager = await staff(api, "warehouse_manager")
    problem(await api.post(f"{path}/override-weight", json={"reason": ""}, headers=manager), 422)
    assert (await package(api, number, device))["status"] == "weight_hold"

    overridden = await api.post(f"{path}/override-weight", json=reason, headers=manager)

    assert overridden.status_code == 200, overridden.text
    assert overridden.json()["status"] == "packed"
    waybilled = await wait_package(api, number, "waybill_created", device)
    assert waybilled["waybill_no"] and waybilled["tracking_no"]
    assert waybilled["measured_weight_g"] == heavy
    steps = await recorded(stack, number, "waybill_created")
    assert [s[0] for s in steps] == [
        "released",
        "weight_hold",
        "weight_override",
        "waybill_created",
    ]
    _, kind, name, detail = steps[2]
    assert (kind, name, detail["reason"]) == ("user", "warehouse_manager", reason["reason"])
    problem(await api.post(f"{path}/override-weight", json=reason, headers=manager), 409)
    problem(
        await api.post(f"{path}/pack", json={"measured_weight_g": expected}, headers=device), 409
    )
    handed = await api.post(f"{path}/handover", headers=device)
    assert handed.status_code == 200, handed.text
    assert handed.json()["status"] == "shipped"


# --- a lost parcel ---------------------------------------------------------------------------


async def test_a_lost_parcel_refunded_by_ops_refunds_that_packages_value(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    sku_sh, sku_gz = await only_in(stack, "SH01"), await only_in(stack, "GZ01")
    async with stack.sessions() as session:
        before = dict(
            (
                await session.execute(
                    text("SELECT sku_id, on_hand FROM stocks WHERE sku_id IN (:a, :b)"),
                    {"a": sku_sh, "b": sku_gz},
                )
            ).all()
        )
    order = await paid_order(stack, api, [(sku_sh, 1), (sku_gz, 2)])
    number, payable = order["order_no"], order["payable_fen"]
    codes = {}
    async with stack.sessions() as session:
        codes = dict((await session.execute(select(Warehouse.id, Warehouse.code))).all())
    parcels = {codes[p["warehouse_id"]]: p for p in order["packages"]}
    delivered, lost = parcels["SH01"], parcels["GZ01"]
    [lost_line] = lost["lines"]
    value = next(li["paid_fen"] for li in order["lines"] if li["line_no"] == lost_line["line_no"])
    assert 0 < value < payable

    kept = await ship(api, delivered["package_no"], DEVICE["SH01"])
    gone = await ship(api, lost["package_no"], DEVICE["GZ01"])
    problem(await api.post(f"/v1/orders/{number}/cancel", json={}, headers=SHOP), 409)
    # One push per parcel (a push arriving while the previous one is recorded is another test).
    await track(carrier, kept["tracking_no"], "delivered")
    await track(carrier, gone["tracking_no"], "lost")
    await wait_package(api, delivered["package_no"], "delivered", DEVICE["SH01"])
    await wait_package(api, lost["package_no"], "exception", DEVICE["GZ01"])
    decide = f"/v1/packages/{lost['package_no']}/exception-decision"
    refund = {"decision": "refund", "reason": "承运商确认丢件"}
    problem(await api.post(decide, json=refund, headers=DEVICE["GZ01"]), 403)
    ops = await staff(api, "ops")

    decided = await api.post(decide, json=refund, headers=ops)

    assert decided.status_code == 200, decided.text

    async def settled() -> Json | None:
        found = await view(api, number)
        return found if found["refunded_fen"] and found["status"] == "delivered" else None

    final = await eventually(settled, "the lost package refunded and the order delivered")
    assert (final["paid_fen"], final["refunded_fen"]) == (payable, value)
    async with stack.sessions() as session:
        refunds = list(await session.scalars(select(Refund).where(Refund.order_no == number)))
        balance = await session.scalar(
            select(func.sum(MoneyEntry.amount_fen)).where(MoneyEntry.order_no == number)
        )
        held = await session.scalar(
            select(func.count()).select_from(Reservation).where(Reservation.status == "held")
        )
        after = dict(
            (
                await session.execute(
                    text("SELECT sku_id, on_hand FROM stocks WHERE sku_id IN (:a, :b)"),
                    {"a": sku_sh, "b": sku_gz},
                )
            ).all()
        )
        await assert_stock_invariants(session)
    assert [(r.refund_no, r.amount_fen) for r in refunds] == [
        ("RF" + lost["package_no"][2:], value)
    ]
    assert balance == payable - value
    assert held == 0
    assert after == {sku_sh: before[sku_sh] - 1, sku_gz: before[sku_gz] - 2}  # both left
    decision = [e for e in await events_of(stack, lost["package_no"]) if e[0] == "decided_refund"]
    assert [(e[1], e[2], e[3]["reason"]) for e in decision] == [("user", "ops", "承运商确认丢件")]
    problem(await api.post(decide, json=refund, headers=ops), 409)
    # The delivered parcel exists and has no exception to decide: a state conflict, not 404.
    problem(
        await api.post(
            f"/v1/packages/{delivered['package_no']}/exception-decision", json=refund, headers=ops
        ),
        409,
    )


# --- waybills --------------------------------------------------------------------------------


async def test_the_waybill_is_the_carriers_one_after_timeouts_and_retries(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    order = await paid_order(stack, api, [(await only_in(stack, "SH01"), 1)])
    number = order["packages"][0]["package_no"]
    device = DEVICE["SH01"]
    expected = (await package(api, number, device))["expected_weight_g"]
    # The carrier does the work, then answers too late for our client (10 s timeout).
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
    shipped = await ship(api, number, device)
    handle = stack.client.get_workflow_handle(f"shipment-{number}")

    async def pending() -> list[str]:
        described = await handle.describe()
        return [a.activity_type.name for a in described.raw_description.pending_activities]

    async def settled_as_shipped() -> bool:
        return (await package_row(stack, number)).status == "shipped" and not await pending()

    await eventually(settled_as_shipped, "the handover recorded")

    async def both_pushes_received() -> bool:
        names = [
            event.workflow_execution_signaled_event_attributes.signal_name
            async for event in handle.fetch_history_events()
            if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED
        ]
        return names.count("tracking") == 2

    async def recording() -> bool:
        return "record_shipment_step" in await pending()

    # Hold the package row so that recording the first push takes a while, as under load.
    async with stack.sessions() as blocker:
        await blocker.execute(
            select(Package.package_no).where(Package.package_no == number).with_for_update()
        )
        await track(carrier, shipped["tracking_no"], "picked_up")
        await eventually(recording, "the first push being recorded")
        await track(carrier, shipped["tracking_no"], "delivered")
        await eventually(both_pushes_received, "the second push received")
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
