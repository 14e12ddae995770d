"""Recorded scenarios (tests/replay/record_every.py): orders, shipments, waves and after-sales."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from models.db import Stock
from tests.replay.scenario_clients import Clients, Scenario, closed, decide
from tests.support.after_sale_api import delivered, open_after_sale, shown_as
from tests.support.order_api import (
    DEVICE,
    Json,
    only_in,
    paid_order,
    staff,
    view,
    wait_package,
)
from tests.support.orders import (
    SHOP,
    customer_parcel,
    deliver,
    device_for,
    eventually,
    one_warehouse_skus,
    pack_and_hand_over,
    pay,
    place,
    wait_cancelled,
    wait_status,
)
from tests.support.picking import pick_package
from tests.support.stack import Stack
from workflows.late_payment import late_payment_id

# --- orders, shipments, waves ------------------------------------------------------------------


async def order_happy(c: Clients) -> None:
    """Two warehouses: placed, paid, two packages picked in waves (planner and wave workflows),
    packed, handed over, delivered, confirmed, closed after the after-sale window."""
    sku_sh, sku_gz = await one_warehouse_skus(c.stack)
    order_no = await place(c.api, "replay-happy", 1, {sku_sh: 1, sku_gz: 1})
    await pay(c.api, c.provider, order_no)
    shown = await wait_status(c.api, order_no, "fulfilling")
    for package in shown["packages"]:
        await deliver(c.carrier, await pack_and_hand_over(c.api, package))
    await wait_status(c.api, order_no, "delivered")
    await closed(c, order_no)


async def close_at_once(c: Clients) -> None:
    """No after-sale window: the order closes as soon as it completes (close-at-once)."""
    order = await paid_order(c.stack, c.api, [(await only_in(c.stack, "SH01"), 1)], key="now")
    [package] = order["packages"]
    await deliver(c.carrier, await pack_and_hand_over(c.api, package))
    await wait_status(c.api, order["order_no"], "delivered")
    await closed(c, order["order_no"])


async def payment_timeout(c: Clients) -> None:
    """Nobody pays before the deadline: cancelled, stock released."""
    sku_sh, _ = await one_warehouse_skus(c.stack)
    order_no = await place(c.api, "replay-timeout", 2, {sku_sh: 1})
    await wait_status(c.api, order_no, "cancelled")
    c.finished(f"order-{order_no}")


async def cancel_paid(c: Clients) -> None:
    """Paid and released, then cancelled by customer service: refunded in full, the package
    cancelled (its wave never started)."""
    order = await paid_order(c.stack, c.api, [(await only_in(c.stack, "SH01"), 2)], key="cxl")
    cs = await staff(c.api, "cs")
    body = {"reason": "客户要求"}
    cancel = await c.api.post(f"/v1/orders/{order['order_no']}/cancel", json=body, headers=cs)
    assert cancel.status_code == 200, cancel.text
    await wait_cancelled(c.api, order["order_no"])
    c.finished(f"order-{order['order_no']}")


async def cancel_after_waybill(c: Clients) -> None:
    """Picked in a wave and packed (waybill created), then cancelled before handover: the
    waybill is voided at the carrier (cancel-voids-waybill), the payment refunded."""
    order = await paid_order(c.stack, c.api, [(await only_in(c.stack, "SH01"), 1)], key="void")
    [package] = order["packages"]
    device = await device_for(c.api, package["warehouse_id"])
    shown = await pick_package(c.api, package)
    packed = await c.api.post(
        f"/v1/packages/{package['package_no']}/pack",
        headers=device,
        json={"measured_weight_g": shown["expected_weight_g"]},
    )
    assert packed.status_code == 200, packed.text
    await wait_package(c.api, package["package_no"], "waybill_created", device)
    body = {"reason": "不要了"}
    cancel = await c.api.post(f"/v1/orders/{order['order_no']}/cancel", headers=SHOP, json=body)
    assert cancel.status_code == 200, cancel.text
    await wait_cancelled(c.api, order["order_no"])
    c.finished(f"order-{order['order_no']}", f"shipment-{package['package_no']}")


async def late_payment(c: Clients) -> None:
    """The customer cancels, then the payment arrives while the order still runs: refunded by
    the order."""
    sku_sh, _ = await one_warehouse_skus(c.stack)
    order_no = await place(c.api, "replay-late", 3, {sku_sh: 1})
    payment = await c.api.post(f"/v1/orders/{order_no}/payments", headers=SHOP)
    body = {"reason": "changed mind"}
    await c.api.post(f"/v1/orders/{order_no}/cancel", headers=SHOP, json=body)
    await c.provider.post(
        f"/v1/payments/{payment.json()['payment_id']}/simulate", json={"outcome": "succeeded"}
    )

    async def refunded() -> bool:
        shown = await view(c.api, order_no)
        return bool(shown["refunded_fen"] == shown["paid_fen"] > 0)

    await eventually(refunded, "late payment refunded")
    c.finished(f"order-{order_no}")


async def late_payment_after_end(c: Clients) -> None:
    """Cancelled unpaid, the order's process ends, then the payment arrives: refunded by a
    LatePaymentRefundWorkflow of its own."""
    sku_sh, _ = await one_warehouse_skus(c.stack)
    order_no = await place(c.api, "replay-late-end", 6, {sku_sh: 1})
    payment = (await c.api.post(f"/v1/orders/{order_no}/payments", headers=SHOP)).json()
    body = {"reason": "changed"}
    await c.api.post(f"/v1/orders/{order_no}/cancel", headers=SHOP, json=body)
    await c.stack.client.get_workflow_handle(f"order-{order_no}").result()
    paid = await c.provider.post(
        f"/v1/payments/{payment['payment_id']}/simulate", json={"outcome": "succeeded"}
    )
    assert paid.status_code == 200, paid.text
    c.finished(late_payment_id(paid.json()["payment"]["transaction_id"]))


async def failed_placement(c: Clients) -> None:
    """A placement the database refuses after reserving: the reservation is released
    (release-stock-on-failed-placement)."""
    from tests.api.test_failed_placement import place_directly

    _, refusal = await place_directly(c.stack, customer_id=2**63)
    assert refusal.type == "InvalidDataError", refusal


MoneyScenario = Callable[[Stack, httpx.AsyncClient, httpx.AsyncClient], Awaitable[list[str]]]


def money(scenario: MoneyScenario) -> Scenario:
    """A money path of tests/replay/record_money.py, recorded again with the current code."""

    async def run(c: Clients) -> None:
        c.finished(*await scenario(c.stack, c.api, c.provider))

    run.__doc__ = scenario.__doc__
    return run


async def _short_by_one(c: Clients) -> tuple[Json, Json]:
    """A paid order of 2 units of a SKU with nothing else to sell; the wave's picker finds one:
    reported short. The order and its package, as they were released."""
    from tests.api.test_wave_short_picks import sellable
    from tests.support.picking import claim, pick_task, plan_now, scan_id

    sku = await only_in(c.stack, "SH01")
    order = await paid_order(c.stack, c.api, [(sku, 2)], key="short")
    [parcel] = order["packages"]
    warehouse = parcel["warehouse_id"]
    manager = await staff(c.api, "warehouse_manager")
    async with c.stack.sessions() as session:
        stock = await session.get(Stock, (sku, warehouse))
        assert stock is not None
    hold = stock.safety_hold + await sellable(c.stack, sku)  # nothing to re-allocate from
    answer = await c.api.put(
        f"/v1/stock/{sku}/{warehouse}/safety-hold",
        headers=manager,
        json={"safety_hold": hold, "reason": "keep a buffer"},
    )
    assert answer.status_code == 200, answer.text
    await plan_now(c.api, warehouse)
    task = await claim(c.api, DEVICE["SH01"])
    assert task is not None
    short = await c.api.post(
        f"/v1/pick-tasks/{task['task_no']}/short",
        headers=DEVICE["SH01"],
        json={"scan_id": scan_id("short"), "found": task["next"]["stop"]["remaining"] - 1},
    )
    assert short.status_code == 200, short.text
    assert (await pick_task(c.api, DEVICE["SH01"], short.json()))["status"] == "short"
    return order, parcel


async def short_pick_backorder(c: Clients) -> None:
    """Backorder policy: one unit short; the package ships what it has; the unit is found again
    and ships as package …B; delivered, closed."""
    from tests.api.test_wave_short_picks import add_batch, spare_locations

    order, parcel = await _short_by_one(c)
    number = parcel["package_no"]
    await deliver(c.carrier, await pack_and_hand_over(c.api, parcel))
    sku, warehouse = order["lines"][0]["sku_id"], parcel["warehouse_id"]
    [spare] = await spare_locations(c.stack, sku, warehouse, 1)
    manager = await staff(c.api, "warehouse_manager")
    await add_batch(
        c.api,
        manager,
        (sku, warehouse, spare),
        quantity_delta=1,
        batch_no="B-BACK",
        production_date="2026-11-01",
        expiry_date="2030-11-01",
    )

    async def backordered() -> Json | None:
        shown = await view(c.api, order["order_no"])
        found = [p for p in shown["packages"] if p["package_no"] == f"{number}B"]
        return found[0] if found and found[0]["status"] == "released" else None

    second = await eventually(backordered, f"{number}B released")
    await deliver(c.carrier, await pack_and_hand_over(c.api, second))
    await wait_status(c.api, order["order_no"], "delivered")
    await closed(c, order["order_no"])


async def short_pick_cancel_line(c: Clients) -> None:
    """Cancel-line policy: one unit short is refunded; the package ships the other; closed."""
    order, parcel = await _short_by_one(c)
    await deliver(c.carrier, await pack_and_hand_over(c.api, parcel))

    async def refunded() -> bool:
        return bool((await view(c.api, order["order_no"]))["refunded_fen"] > 0)

    await eventually(refunded, "the short unit refunded")
    await wait_status(c.api, order["order_no"], "delivered")
    await closed(c, order["order_no"])


async def weight_hold(c: Clients) -> None:
    """Packed far off the expected weight: held until the warehouse manager overrides it, then
    waybill, handover, delivery; closed."""
    order = await paid_order(c.stack, c.api, [(await only_in(c.stack, "SH01"), 1)], key="heavy")
    [package] = order["packages"]
    number = package["package_no"]
    device = await device_for(c.api, package["warehouse_id"])
    shown = await pick_package(c.api, package)
    heavy = shown["expected_weight_g"] * 3 + 500
    packed = await c.api.post(
        f"/v1/packages/{number}/pack", headers=device, json={"measured_weight_g": heavy}
    )
    assert packed.status_code == 200, packed.text
    assert packed.json()["status"] == "weight_hold", packed.text
    manager = await staff(c.api, "warehouse_manager")
    overridden = await c.api.post(
        f"/v1/packages/{number}/override-weight",
        headers=manager,
        json={"reason": "gift box, heavier than listed"},
    )
    assert overridden.status_code == 200, overridden.text
    waybilled = await wait_package(c.api, number, "waybill_created", device)
    handed = await c.api.post(f"/v1/packages/{number}/handover", headers=device)
    assert handed.status_code == 200, handed.text
    await deliver(c.carrier, waybilled["tracking_no"])
    await wait_status(c.api, order["order_no"], "delivered")
    await closed(c, order["order_no"])


async def risk_review_approved(c: Clients) -> None:
    """Every order reviewed: placed (held for review), paid, approved by ops, released,
    shipped, delivered; closed."""
    sku = await only_in(c.stack, "SH01")
    order_no = await place(c.api, "replay-review-ok", 8, {sku: 1})
    await pay(c.api, c.provider, order_no)
    await wait_status(c.api, order_no, "paid")
    ops = await staff(c.api, "ops")
    review = f"/v1/orders/{order_no}/risk-review"
    answer = await c.api.post(review, json={"approve": True, "reason": "老客户"}, headers=ops)
    assert answer.status_code == 200, answer.text
    shown = await wait_status(c.api, order_no, "fulfilling")
    [package] = shown["packages"]
    await deliver(c.carrier, await pack_and_hand_over(c.api, package))
    await wait_status(c.api, order_no, "delivered")
    await closed(c, order_no)


async def risk_review_rejected(c: Clients) -> None:
    """Every order reviewed: placed, paid, rejected by ops: cancelled and refunded."""
    sku = await only_in(c.stack, "SH01")
    order_no = await place(c.api, "replay-review-no", 9, {sku: 2})
    await pay(c.api, c.provider, order_no)
    await wait_status(c.api, order_no, "paid")
    ops = await staff(c.api, "ops")
    body = {"approve": False, "reason": "同一地址多笔订单"}
    answer = await c.api.post(f"/v1/orders/{order_no}/risk-review", json=body, headers=ops)
    assert answer.status_code == 200, answer.text
    await wait_cancelled(c.api, order_no)
    c.finished(f"order-{order_no}")


async def lost_parcel(c: Clients) -> None:
    """Two packages: one delivered, the other lost by the carrier; ops refund the lost one's
    value; the order is delivered and closes."""
    sku_sh, sku_gz = await one_warehouse_skus(c.stack)
    order_no = await place(c.api, "replay-lost", 10, {sku_sh: 1, sku_gz: 2})
    await pay(c.api, c.provider, order_no)
    shown = await wait_status(c.api, order_no, "fulfilling")
    kept, lost = sorted(shown["packages"], key=lambda p: p["package_no"])
    await deliver(c.carrier, await pack_and_hand_over(c.api, kept))
    gone = await pack_and_hand_over(c.api, lost)
    pushed = await c.carrier.post(f"/_sandbox/tracking/{gone}/events", json={"code": "lost"})
    assert pushed.status_code == 201, pushed.text
    device = await device_for(c.api, lost["warehouse_id"])
    await wait_package(c.api, lost["package_no"], "exception", device)
    decided = await c.api.post(
        f"/v1/packages/{lost['package_no']}/exception-decision",
        json={"decision": "refund", "reason": "承运商确认丢件"},
        headers=await staff(c.api, "ops"),
    )
    assert decided.status_code == 200, decided.text

    async def settled() -> bool:
        found = await view(c.api, order_no)
        return bool(found["refunded_fen"] and found["status"] == "delivered")

    await eventually(settled, "the lost package refunded and the order delivered")
    await closed(c, order_no)


# --- after-sales -------------------------------------------------------------------------------


async def _delivered(c: Clients, quantity: int, key: str) -> Json:
    sku = await only_in(c.stack, "SH01")
    return await delivered(c.stack, c.api, c.carrier, [(sku, quantity)], key=key)


async def after_sale_refund(c: Clients) -> None:
    """Delivered; one unit of three refunded without a return, approved by customer service."""
    order = await _delivered(c, 3, "as-refund")
    line = order["lines"][0]["line_no"]
    as_no = await open_after_sale(c.api, order["order_no"], "r-1", "refund_only", [(line, 1)])
    await decide(c, as_no)
    await shown_as(c.api, as_no, "refunded")
    c.finished(f"aftersale-{as_no}")
    await closed(c, order["order_no"])


async def _refund_only(c: Clients, order_no: str, key: str, line: int, quantity: int) -> str:
    body = {
        "client_request_key": key,
        "type": "refund_only",
        "lines": [{"line_no": line, "quantity": quantity}],
        "reason": "不想要了",
    }
    opened = await c.api.post(f"/v1/orders/{order_no}/after-sales", headers=SHOP, json=body)
    assert opened.status_code == 201, opened.text
    return str(opened.json()["as_no"])


async def after_sale_before_shipment(c: Clients) -> None:
    """Paid, released, not yet picked: one unit of three refunded at once (taken out of the
    package, nothing to decide); the other two are picked, shipped, delivered; closed."""
    order = await paid_order(c.stack, c.api, [(await only_in(c.stack, "SH01"), 3)], key="pre")
    [parcel] = order["packages"]
    as_no = await _refund_only(c, order["order_no"], "pre-1", order["lines"][0]["line_no"], 1)
    await shown_as(c.api, as_no, "refunded")
    await deliver(c.carrier, await pack_and_hand_over(c.api, parcel))
    await wait_status(c.api, order["order_no"], "delivered")
    c.finished(f"aftersale-{as_no}")
    await closed(c, order["order_no"])


async def after_sale_whole_order(c: Clients) -> None:
    """Paid, released, not yet picked: every unit refunded before picking; the order ends
    cancelled, refunded once."""
    order = await paid_order(c.stack, c.api, [(await only_in(c.stack, "SH01"), 2)], key="all")
    as_no = await _refund_only(c, order["order_no"], "all-1", order["lines"][0]["line_no"], 2)
    await shown_as(c.api, as_no, "refunded")
    await wait_status(c.api, order["order_no"], "cancelled")
    c.finished(f"aftersale-{as_no}", f"order-{order['order_no']}")


async def after_sale_rejected_and_withdrawn(c: Clients) -> None:
    """Delivered; one refund request rejected by customer service, another withdrawn by the
    customer before anyone decided; closed."""
    order = await _delivered(c, 2, "as-no")
    line = order["lines"][0]["line_no"]
    rejected = await open_after_sale(c.api, order["order_no"], "no-1", "refund_only", [(line, 1)])
    cs = await staff(c.api, "cs")
    body = {"approve": False, "reason": "已超出售后范围"}
    decided = await c.api.post(f"/v1/after-sales/{rejected}/decision", headers=cs, json=body)
    assert decided.status_code == 200, decided.text
    await shown_as(c.api, rejected, "rejected")
    withdrawn = await open_after_sale(c.api, order["order_no"], "no-2", "refund_only", [(line, 1)])
    answer = await c.api.post(f"/v1/after-sales/{withdrawn}/withdraw", headers=SHOP)
    assert answer.status_code == 200, answer.text
    await shown_as(c.api, withdrawn, "withdrawn")
    c.finished(f"aftersale-{rejected}", f"aftersale-{withdrawn}")
    await closed(c, order["order_no"])


async def after_sale_return(c: Clients) -> None:
    """Delivered; two units sent back (the return parcel followed: follow-return-tracking),
    received at the warehouse, one sellable and one damaged, refunded."""
    order = await _delivered(c, 3, "as-return")
    line = order["lines"][0]["line_no"]
    as_no = await open_after_sale(
        c.api, order["order_no"], "ret-1", "return_and_refund", [(line, 2)]
    )
    await decide(c, as_no)
    await shown_as(c.api, as_no, "awaiting_return")
    back = {"carrier_code": "SF", "tracking_no": await customer_parcel(c.carrier)}
    path = f"/v1/after-sales/{as_no}"
    shipped = await c.api.post(f"{path}/return-shipment", headers=SHOP, json=back)
    assert shipped.status_code == 200, shipped.text
    await deliver(c.carrier, back["tracking_no"])
    inbound = {"lines": [{"line_no": line, "sellable": 1, "damaged": 1}]}
    received = await c.api.post(f"{path}/inbound", headers=DEVICE["SH01"], json=inbound)
    assert received.status_code == 200, received.text
    await shown_as(c.api, as_no, "refunded")
    c.finished(f"aftersale-{as_no}")
    await closed(c, order["order_no"])


async def after_sale_exchange(c: Clients) -> None:
    """Delivered; one unit exchanged: returned, received, the replacement package released,
    picked in a wave, packed, handed over and delivered."""
    order = await _delivered(c, 2, "as-exchange")
    line = order["lines"][0]["line_no"]
    as_no = await open_after_sale(c.api, order["order_no"], "ex-1", "exchange", [(line, 1)])
    await decide(c, as_no)
    await shown_as(c.api, as_no, "awaiting_return")
    back = {"carrier_code": "SF", "tracking_no": await customer_parcel(c.carrier)}
    path = f"/v1/after-sales/{as_no}"
    shipped = await c.api.post(f"{path}/return-shipment", headers=SHOP, json=back)
    assert shipped.status_code == 200, shipped.text
    inbound = {"lines": [{"line_no": line, "sellable": 1, "damaged": 0}]}
    received = await c.api.post(f"{path}/inbound", headers=DEVICE["SH01"], json=inbound)
    assert received.status_code == 200, received.text
    await shown_as(c.api, as_no, "exchanged")
    replacement = f"PK{as_no[2:]}X"

    async def released() -> Json | None:
        shown = await view(c.api, order["order_no"])
        found = [p for p in shown["packages"] if p["package_no"] == replacement]
        return found[0] if found and found[0]["status"] == "released" else None

    parcel = await eventually(released, "replacement package released")
    await deliver(c.carrier, await pack_and_hand_over(c.api, parcel))
    c.finished(f"aftersale-{as_no}", f"shipment-{replacement}")
    await closed(c, order["order_no"])


async def _replacement_released(c: Clients, order_no: str, line: int, key: str) -> tuple[str, Json]:
    """An exchange of one unit approved, returned, received: the replacement released."""
    as_no = await open_after_sale(c.api, order_no, key, "exchange", [(line, 1)])
    await decide(c, as_no)
    await shown_as(c.api, as_no, "awaiting_return")
    back = {"carrier_code": "SF", "tracking_no": await customer_parcel(c.carrier)}
    path = f"/v1/after-sales/{as_no}"
    shipped = await c.api.post(f"{path}/return-shipment", headers=SHOP, json=back)
    assert shipped.status_code == 200, shipped.text
    inbound = {"lines": [{"line_no": line, "sellable": 1, "damaged": 0}]}
    received = await c.api.post(f"{path}/inbound", headers=DEVICE["SH01"], json=inbound)
    assert received.status_code == 200, received.text
    await shown_as(c.api, as_no, "exchanged")
    replacement = f"PK{as_no[2:]}X"

    async def released() -> Json | None:
        shown = await view(c.api, order_no)
        found = [p for p in shown["packages"] if p["package_no"] == replacement]
        return found[0] if found and found[0]["status"] == "released" else None

    return as_no, await eventually(released, "replacement package released")


async def exchange_refund_before_replacement_ships(c: Clients) -> None:
    """Issue 13 item 1's path: an exchange's replacement is released, then the customer asks a
    refund of that unit before it ships. Recorded as the code of this generation runs it: the
    request waits for a decision as if the unit were delivered, is approved and refunded, and the
    replacement still ships (the order's handles never include it). Tolerant of the fix: a
    request settled at once and a replacement that no longer ships are recorded as they are."""
    order = await _delivered(c, 1, "as-ex-refund")
    order_no, line = order["order_no"], order["lines"][0]["line_no"]
    as_no, parcel = await _replacement_released(c, order_no, line, "ex-r")
    body = {
        "client_request_key": "ex-r-refund",
        "type": "refund_only",
        "lines": [{"line_no": line, "quantity": 1}],
        "reason": "不要换了",
    }
    asked = await c.api.post(f"/v1/orders/{order_no}/after-sales", headers=SHOP, json=body)
    assert asked.status_code == 201, asked.text
    refund_no = asked.json()["as_no"]
    if asked.json()["sla_due_at"] is not None:  # waits for a decision
        await shown_as(c.api, refund_no, "requested")
        await decide(c, refund_no)
    await shown_as(c.api, refund_no, "refunded")
    c.finished(f"aftersale-{as_no}", f"aftersale-{refund_no}")
    shown = await view(c.api, order_no)
    [replacement] = [p for p in shown["packages"] if p["package_no"] == parcel["package_no"]]
    print(f"{order_no}: the replacement is {replacement['status']} after the refund")  # noqa: T201
    if replacement["status"] == "released":
        await deliver(c.carrier, await pack_and_hand_over(c.api, parcel))
    await closed(c, order_no)


async def after_sale_id_taken(c: Clients) -> None:
    """The after-sale's workflow id is already taken: refused with a 409
    (after-sale-id-taken-refused); the next request for the same units is refunded."""
    from tests.api.test_after_sale_id_taken import next_after_sale_no, refund_of

    order = await _delivered(c, 3, "as-taken")
    order_no = order["order_no"]
    taken = await next_after_sale_no(c.stack)
    squatter = await c.stack.client.start_workflow(
        "Squatter", id=f"aftersale-{taken}", task_queue=f"{c.stack.task_queue}-nobody"
    )
    try:
        answer = await c.api.post(
            f"/v1/orders/{order_no}/after-sales", headers=SHOP, json=refund_of("first")
        )
        assert answer.status_code == 409, answer.text
    finally:
        await squatter.terminate("recorded")
    again = await c.api.post(
        f"/v1/orders/{order_no}/after-sales", headers=SHOP, json=refund_of("second")
    )
    assert again.status_code == 201, again.text
    as_no = again.json()["as_no"]
    await shown_as(c.api, as_no, "requested")
    await decide(c, as_no)
    await shown_as(c.api, as_no, "refunded")
    c.finished(f"aftersale-{as_no}")
    await closed(c, order_no)
