"""Recorded scenarios (tests/replay/record_every.py): members' points, coupon batches, flash
sales, group buys and presales."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from temporalio.client import ScheduleActionExecutionStartWorkflow

from models.contracts.loyalty import ExpiryInput
from models.db import FlashSale
from tests.replay.scenario_clients import Clients, closed, decide
from tests.support.after_sale_api import open_after_sale, shown_as
from tests.support.flash_sales import buy, create_flash_sale, list_price, wait_flash_status
from tests.support.order_api import (
    RECEIVER,
    Json,
    only_in,
    staff,
    warehouse_id,
)
from tests.support.orders import (
    SHOP,
    deliver,
    known_customer,
    one_warehouse_skus,
    pack_and_hand_over,
    pay,
    wait_cancelled,
    wait_status,
)
from tests.support.presales import buy_presale, create_presale, pay_stage, wait_step

# --- members' points (DESIGN §6.7) ---------------------------------------------------------------


async def _grant(c: Clients, customer_key: int, points: int) -> None:
    """Points granted by staff to the demo storefront's customer `customer_key` (its record)."""
    customer = (await known_customer(c.api, customer_key))["id"]
    cs = await staff(c.api, "cs")
    body = {"key": f"grant-{customer}", "points": points, "reason": "开卡礼"}
    granted = await c.api.post(f"/v1/customers/{customer}/points/adjustments", headers=cs,
                               json=body)  # fmt: skip
    assert granted.status_code == 201, granted.text


async def loyalty_points(c: Clients) -> None:
    """A member spends points on an order they cancel (points back, points-back-on-cancel), and
    on one delivered, refunded one unit of three (points back pro rata, points-back-with-refund),
    confirmed: it earns points and growth (earn-points-on-completion) and closes."""
    sku = await only_in(c.stack, "SH01")
    await _grant(c, 77, 1_000)
    lines = [{"sku_id": sku, "quantity": 3}]
    body = {"client_order_key": "pts-1", "customer_id": 77, "address": RECEIVER, "lines": lines,
            "points": 100}  # fmt: skip
    cancelled = await c.api.post("/v1/orders", headers=SHOP, json=body)
    assert cancelled.status_code == 201, cancelled.text
    number = cancelled.json()["order_no"]
    cancel = await c.api.post(f"/v1/orders/{number}/cancel", headers=SHOP,
                              json={"reason": "不要了"})  # fmt: skip
    assert cancel.status_code == 200, cancel.text
    await wait_cancelled(c.api, number)
    placed = await c.api.post(
        "/v1/orders", headers=SHOP, json={**body, "client_order_key": "pts-2"}
    )
    assert placed.status_code == 201, placed.text
    order_no = placed.json()["order_no"]
    await pay(c.api, c.provider, order_no)
    shown = await wait_status(c.api, order_no, "fulfilling")
    [package] = shown["packages"]
    await deliver(c.carrier, await pack_and_hand_over(c.api, package))
    await wait_status(c.api, order_no, "delivered")
    as_no = await open_after_sale(c.api, order_no, "pts-r", "refund_only", [(1, 1)])
    await decide(c, as_no)
    await shown_as(c.api, as_no, "refunded")
    c.finished(f"order-{number}", f"aftersale-{as_no}")
    await closed(c, order_no)


async def points_expiry(c: Clients) -> None:
    """The yearly expiry, started as its Schedule starts it (for a year whose cutoff is past
    the points granted): the points expire."""
    from workflows.points_expiry import PointsExpiryWorkflow

    await _grant(c, 78, 300)
    year = datetime.now(UTC).year + 2
    handle = await c.stack.client.start_workflow(
        PointsExpiryWorkflow.run,
        ExpiryInput(year=year),
        id=f"expire-points-replay-{year}",
        task_queue=c.stack.task_queue,
    )
    result = await handle.result()
    assert result.points >= 300, result
    c.finished(handle.id)


async def flash_sale(c: Clients) -> None:
    """A flash sale opened at once (FlashSaleWorkflow): one buyer's order unpaid past the short
    flash deadline (its unit back to the campaign), a second buyer's order, then staff stop the
    sale early; the second order, unpaid, gives its unit back to sellable (flash-sale-order)."""
    ops = await staff(c.api, "ops")
    sku_sh, _ = await one_warehouse_skus(c.stack)
    sh01 = await warehouse_id(c.stack, "SH01")
    sale = await create_flash_sale(
        c.api, ops, sku_id=sku_sh, warehouse_id=sh01, price_fen=1, quantity=2, limit=1
    )
    await wait_flash_status(c.api, sale["id"], "open", ops)
    first = await buy(c.api, sale["id"], sku_sh, customer_id=71, key="replay-flash-1")
    assert first.status_code == 201, first.text
    await wait_cancelled(c.api, first.json()["order_no"])
    second = await buy(c.api, sale["id"], sku_sh, customer_id=72, key="replay-flash-2")
    assert second.status_code == 201, second.text
    stopped = await c.api.post(
        f"/v1/flash-sales/{sale['id']}/stop", json={"reason": "replay"}, headers=ops
    )
    assert stopped.status_code == 200, stopped.text
    c.finished(
        f"flash-{sale['flash_no']}",
        f"order-{first.json()['order_no']}",
        f"order-{second.json()['order_no']}",
    )


async def flash_sale_window(c: Clients) -> None:
    """A flash sale opened by its opening Schedule and closed by its closing Schedule: the
    FlashCloseWorkflow that Schedule starts tells the sale's workflow its end has come
    (closed-by-schedule)."""
    ops = await staff(c.api, "ops")
    sku_sh, _ = await one_warehouse_skus(c.stack)
    sh01 = await warehouse_id(c.stack, "SH01")
    sale = await create_flash_sale(
        c.api, ops, sku_id=sku_sh, warehouse_id=sh01, price_fen=1, quantity=2, limit=1,
        opens_in=timedelta(seconds=2), lasts=timedelta(seconds=3),
    )  # fmt: skip
    await wait_flash_status(c.api, sale["id"], "closed", ops, seconds=60)
    closing = c.stack.client.get_schedule_handle(f"flash-close-{sale['flash_no']}")
    [fired] = (await closing.describe()).info.recent_actions
    assert isinstance(fired.action, ScheduleActionExecutionStartWorkflow)
    async with c.stack.sessions() as session:
        opened_by = await session.scalar(
            select(FlashSale.workflow_id).where(FlashSale.id == sale["id"])
        )
    assert opened_by is not None
    c.finished(opened_by, fired.action.workflow_id)


# --- group buy ----------------------------------------------------------------------------------


async def _group_offer(c: Clients, size: int, minutes: int) -> int:
    now = datetime.now(UTC)
    created = await c.api.post(
        "/v1/group-buy-offers",
        json={
            "name": f"replay {size}",
            "sku_id": await only_in(c.stack, "SH01"),
            "group_price_fen": 990,
            "group_size": size,
            "time_limit_minutes": minutes,
            "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(days=1)).isoformat(),
        },
        headers=await staff(c.api, "ops"),
    )
    assert created.status_code == 201, created.text
    offer_id: int = created.json()["id"]
    return offer_id


async def _group_member(
    c: Clients, key: str, customer_id: int, *, offer_id: int = 0, group_no: str = ""
) -> Json:
    body: Json = {
        "client_order_key": key,
        "customer_id": customer_id,
        "address": {"name": "张三", "phone": "13800000000", "region_code": "310115",
                    "detail": "世纪大道 1 号"},
    }  # fmt: skip
    await known_customer(c.api, customer_id)
    if group_no:
        answer = await c.api.post(f"/v1/group-buys/{group_no}/members", json=body, headers=SHOP)
    else:
        answer = await c.api.post(
            "/v1/group-buys", json={**body, "offer_id": offer_id}, headers=SHOP
        )
    assert answer.status_code == 201, answer.text
    joined: Json = answer.json()
    return joined


async def group_buy(c: Clients) -> None:
    """Two groups: one of two members, both pay, it completes and both orders ship; one of two
    whose second member never comes, the paid first member's order waits, the time limit
    passes, the group fails and the order is cancelled and refunded (group-buy-member)."""
    complete = await _group_offer(c, 2, 60)
    first = await _group_member(c, "replay-gb-1", 801, offer_id=complete)
    group_no = first["group"]["group_no"]
    second = await _group_member(c, "replay-gb-2", 802, group_no=group_no)
    for joined in (first, second):
        await pay(c.api, c.provider, joined["order"]["order_no"])
    for joined in (first, second):
        await wait_status(c.api, joined["order"]["order_no"], "fulfilling")
    c.finished(f"group-{group_no}")
    failing = await _group_offer(c, 2, 1)
    alone = await _group_member(c, "replay-gb-3", 803, offer_id=failing)
    await pay(c.api, c.provider, alone["order"]["order_no"])
    await wait_status(c.api, alone["order"]["order_no"], "paid")
    await wait_status(c.api, alone["order"]["order_no"], "cancelled", seconds=150)
    await wait_cancelled(c.api, alone["order"]["order_no"])
    c.finished(f"group-{alone['group']['group_no']}")


async def presale(c: Clients) -> None:
    """A presale (presale-order): one order pays its deposit, waits for the balance window, pays
    the balance (a second payment) and ships to the end; one pays the deposit and never the
    balance (forfeited at the window's end, stock released); one is cancelled before the
    window (the deposit refunded per the rule)."""
    ops = await staff(c.api, "ops")
    sku_sh, _ = await one_warehouse_skus(c.stack)
    price = await list_price(c.stack, sku_sh) // 2
    sale = await create_presale(
        c.api, ops, sku_id=sku_sh, price_fen=price, deposit_fen=100,
        opens_in=timedelta(seconds=6), lasts=timedelta(seconds=6),
    )  # fmt: skip
    numbers = []
    for customer in (81, 82, 83):
        answer = await buy_presale(
            c.api, sale["id"], sku_sh, customer, key=f"replay-pre-{customer}"
        )
        assert answer.status_code == 201, answer.text
        numbers.append(answer.json()["order_no"])
        await pay_stage(c.api, c.provider, numbers[-1])
        await wait_step(c.api, numbers[-1], "deposit_paid")
    ships, forfeits, cancels = numbers
    cancelled = await c.api.post(f"/v1/orders/{cancels}/cancel", json={}, headers=SHOP)
    assert cancelled.status_code == 200, cancelled.text
    await wait_step(c.api, ships, "balance_window_opened")
    await pay_stage(c.api, c.provider, ships)
    shown = await wait_status(c.api, ships, "fulfilling")
    for package in shown["packages"]:
        await deliver(c.carrier, await pack_and_hand_over(c.api, package))
    await wait_status(c.api, ships, "delivered")
    await wait_cancelled(c.api, forfeits)
    await closed(c, ships)
    c.finished(f"order-{forfeits}", f"order-{cancels}")


async def presale_after_sale(c: Clients) -> None:
    """A presale's order (presale-after-sale-across-payments, quote-names-storefront) pays its
    deposit (nearly all the price) and its balance, is delivered, and an after-sale refunds one
    of its two units: on the balance's payment first (`RF…-B`), the rest on the deposit's."""
    ops = await staff(c.api, "ops")
    sku_sh, _ = await one_warehouse_skus(c.stack)
    price = await list_price(c.stack, sku_sh) // 2
    sale = await create_presale(
        c.api, ops, sku_id=sku_sh, price_fen=price, deposit_fen=price - 1,
        opens_in=timedelta(seconds=4), lasts=timedelta(seconds=60), name="预售售后",
    )  # fmt: skip
    answer = await buy_presale(c.api, sale["id"], sku_sh, 84, key="replay-pre-as", quantity=2)
    assert answer.status_code == 201, answer.text
    number = answer.json()["order_no"]
    await pay_stage(c.api, c.provider, number)
    await wait_step(c.api, number, "balance_window_opened")
    await pay_stage(c.api, c.provider, number)
    shown = await wait_status(c.api, number, "fulfilling")
    for package in shown["packages"]:
        await deliver(c.carrier, await pack_and_hand_over(c.api, package))
    await wait_status(c.api, number, "delivered")
    as_no = await open_after_sale(c.api, number, "replay-pre-as-1", "refund_only", [(1, 1)])
    await decide(c, as_no)
    await shown_as(c.api, as_no, "refunded")
    c.finished(f"aftersale-{as_no}")
    await closed(c, number)


async def coupon_batch(c: Clients) -> None:
    """Members (DESIGN §6.7): a coupon issued to a segment of five dormant customers, once
    through the API (one chunk) and once started directly with chunks of two and two chunks a
    run (continued as new, then done)."""
    from models.contracts.customers import CouponBatchInput
    from models.db import CouponBatch
    from tests.support.members import a_coupon, batch_done, upsert
    from workflows.coupon_batch import CouponBatchWorkflow, coupon_batch_id

    for key in range(1, 6):
        await upsert(c.api, 800 + key, f"会员{key}", f"1370000{key:04d}")
    coupon = await a_coupon(c.stack, "REPLAY-BACK")
    ops = await staff(c.api, "ops")
    rules = [{"kind": "no_order_in", "days": 180}]
    made = await c.api.post("/v1/segments", json={"name": "沉睡", "rules": rules}, headers=ops)
    assert made.status_code == 201, made.text
    path = f"/v1/segments/{made.json()['id']}/coupon-batches"
    started = await c.api.post(path, json={"coupon_id": coupon}, headers=ops)
    assert started.status_code == 201, started.text
    first = started.json()
    await batch_done(c.api, first["id"], ops)
    async with c.stack.sessions() as session:
        again = CouponBatch(
            segment_id=first["segment_id"], coupon_id=coupon, status="running",
            rules=first["rules"],
            as_of=datetime.fromisoformat(first["as_of"]), total=5, created_by="replay",
        )  # fmt: skip
        session.add(again)
        await session.commit()
    await c.stack.client.start_workflow(
        CouponBatchWorkflow.run,
        CouponBatchInput(batch_id=again.id, chunk=2, chunks_per_run=2),
        id=coupon_batch_id(again.id),
        task_queue=c.stack.task_queue,
    )
    await batch_done(c.api, again.id, ops)
    c.finished(coupon_batch_id(first["id"]), coupon_batch_id(again.id))
