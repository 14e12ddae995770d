"""Flash sales (秒杀, DESIGN §6.8) over the whole back office: the campaign's stock carved at
opening and given back at closing (ledger rows both ways, invariants held), the gate's 409s
(sold out, over the per-customer limit, closed) before any order starts, the flash price, an
unpaid order's unit back to the campaign at its shorter deadline, live figures, stop early, and
a window opened by its Schedule and closed by its timer."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import String, cast, func, select, text
from temporalio.client import ScheduleActionExecutionStartWorkflow
from temporalio.service import RPCError, RPCStatusCode

from models.db import ApiKey, AuditEntry, FlashClaim, Order
from services import flash_gate
from tests.support.flash_sales import (
    buy,
    campaign_movements,
    create_flash_sale,
    flash_sale,
    list_price,
    wait_flash_status,
)
from tests.support.order_api import (
    Json,
    figures,
    pay,
    problem,
    reservations,
    skus_in,
    staff,
    warehouse_id,
)
from tests.support.orders import SHOP, eventually, wait_cancelled
from tests.support.stack import Stack, fast_timings
from workflows.flash_sale import BACKSTOP

SHORT_TO_PAY = {
    "timings": fast_timings().model_copy(update={"flash_payment_window": timedelta(seconds=3)})
}


async def orders_started(stack: Stack, customer_id: int) -> int:
    async with stack.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Order).where(Order.customer_id == customer_id)
        )
    return int(count or 0)


async def test_a_flash_sale_sells_its_units_once_each_at_the_flash_price_and_gives_back_the_rest(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    ops = await staff(api, "ops")
    [sku] = await skus_in(stack, "SH01")
    sh01 = await warehouse_id(stack, "SH01")
    price = await list_price(stack, sku) // 2
    before = await figures(stack)

    created = await create_flash_sale(
        api, ops, sku_id=sku, warehouse_id=sh01, price_fen=price, quantity=3, limit=1
    )
    sale = await wait_flash_status(api, created["id"], "open", ops)
    assert (sale["total"], sale["sold"], sale["remaining"], sale["held"]) == (3, 0, 3, 3)
    on_hand, reserved = before[(sku, sh01)]
    assert (await figures(stack))[(sku, sh01)] == (on_hand, reserved + 3)  # carved from sellable
    assert await campaign_movements(stack, sale["flash_no"]) == [("reservation", 3)]

    first = await buy(api, sale["id"], sku, customer_id=501, key="flash-501")
    assert first.status_code == 201, first.text
    order = first.json()
    [line] = order["lines"]
    assert (line["sku_id"], line["quantity"], line["unit_price_fen"]) == (sku, 1, price)
    assert order["goods_list_fen"] == price
    again = await buy(api, sale["id"], sku, customer_id=501, key="flash-501")  # same key
    assert again.status_code == 201, again.text
    assert again.json()["order_no"] == order["order_no"]
    over = problem(await buy(api, sale["id"], sku, customer_id=501, key="flash-501b"), 409)
    assert over["errors"][0]["reason"] == "over_limit"
    assert await orders_started(stack, 501) == 1
    [held] = await reservations(stack, order["order_no"])
    assert (held.sku_id, held.warehouse_id, held.quantity, held.status) == (sku, sh01, 1, "held")
    # The unit moved from the campaign's hold to the order's: reserved did not change.
    assert (await figures(stack))[(sku, sh01)] == (on_hand, reserved + 3)

    answers = await asyncio.gather(
        *(buy(api, sale["id"], sku, customer_id=600 + n, key=f"flash-6{n}") for n in range(6))
    )
    placed = [a for a in answers if a.status_code == 201]
    refused = [problem(a, 409) for a in answers if a.status_code != 201]
    assert len(placed) == 2 and len(refused) == 4
    assert {r["errors"][0]["reason"] for r in refused} == {"sold_out"}
    assert sum([await orders_started(stack, 600 + n) for n in range(6)]) == 2

    await pay(api, provider, order["order_no"])

    async def paid_shown() -> Json | None:
        shown = await flash_sale(api, sale["id"], ops)
        return shown if shown["paid_orders"] == 1 else None

    live = await eventually(paid_shown, "the paid order shown")
    assert (live["sold"], live["remaining"]) == (3, 0)
    assert (live["paid_orders"], live["paid_units"], live["unpaid_orders"]) == (1, 1, 2)

    stopped = await api.post(
        f"/v1/flash-sales/{sale['id']}/stop", json={"reason": "活动提前结束"}, headers=ops
    )
    assert stopped.status_code == 200, stopped.text
    closed = stopped.json()
    assert (closed["status"], closed["returned"], closed["closed_by"]) == ("closed", 0, "user:ops")
    late = problem(await buy(api, sale["id"], sku, customer_id=700, key="flash-700"), 409)
    assert late["errors"][0]["reason"] == "not_open"
    problem(
        await api.post(f"/v1/flash-sales/{sale['id']}/stop", json={"reason": "再次"}, headers=ops),
        409,
    )
    # Three units sold and held by their orders; nothing else of the campaign holds stock.
    assert (await figures(stack))[(sku, sh01)] == (on_hand, reserved + 3)
    assert await campaign_movements(stack, sale["flash_no"]) == [("reservation", 3)]


async def test_stopping_early_returns_the_unsold_units_to_sellable(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    ops = await staff(api, "ops")
    [sku] = await skus_in(stack, "SH01")
    sh01 = await warehouse_id(stack, "SH01")
    before = (await figures(stack))[(sku, sh01)]
    price = await list_price(stack, sku) - 1
    sale = await create_flash_sale(
        api, ops, sku_id=sku, warehouse_id=sh01, price_fen=price, quantity=5, limit=2
    )
    sale = await wait_flash_status(api, sale["id"], "open", ops)
    bought = await buy(api, sale["id"], sku, customer_id=801, key="flash-801", quantity=2)
    assert bought.status_code == 201, bought.text

    stopped = await api.post(
        f"/v1/flash-sales/{sale['id']}/stop", json={"reason": "库存调整"}, headers=ops
    )
    assert stopped.status_code == 200, stopped.text
    assert (stopped.json()["returned"], stopped.json()["sold"]) == (3, 2)
    assert (await figures(stack))[(sku, sh01)] == (before[0], before[1] + 2)
    assert await campaign_movements(stack, sale["flash_no"]) == [
        ("reservation", 5),
        ("release", -3),
    ]
    listed = await api.get("/v1/flash-sales", params={"status": "closed"}, headers=ops)
    assert [s["flash_no"] for s in listed.json()["data"]] == [sale["flash_no"]]
    with pytest.raises(RPCError) as gone:  # nothing left for its closing schedule to close
        await stack.client.get_schedule_handle(f"flash-close-{sale['flash_no']}").describe()
    assert gone.value.status == RPCStatusCode.NOT_FOUND


@pytest.mark.parametrize("stack", [SHORT_TO_PAY], indirect=True)
async def test_an_unpaid_flash_order_gives_its_unit_back_to_the_campaign(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    ops = await staff(api, "ops")
    [sku] = await skus_in(stack, "SH01")
    sh01 = await warehouse_id(stack, "SH01")
    before = (await figures(stack))[(sku, sh01)]
    sale = await create_flash_sale(
        api, ops, sku_id=sku, warehouse_id=sh01, price_fen=1, quantity=1, limit=1
    )
    await wait_flash_status(api, sale["id"], "open", ops)
    first = await buy(api, sale["id"], sku, customer_id=901, key="flash-901")
    assert first.status_code == 201, first.text
    deadline = datetime.fromisoformat(first.json()["payment_deadline"])
    assert deadline < datetime.now(UTC) + timedelta(seconds=4)  # the flash window, not 30 min
    sold_out = problem(await buy(api, sale["id"], sku, customer_id=902, key="flash-902"), 409)
    assert sold_out["errors"][0]["reason"] == "sold_out"

    await wait_cancelled(api, first.json()["order_no"])  # 3 s to pay, not the usual 30 min
    shown = await flash_sale(api, sale["id"], ops)
    assert (shown["sold"], shown["remaining"], shown["held"]) == (0, 1, 1)
    assert (shown["released_orders"], shown["released_units"]) == (1, 1)
    async with stack.sessions() as session:
        claim = await session.get(FlashClaim, first.json()["order_no"])
    assert claim is not None and (claim.status, claim.returned_to) == ("released", "campaign")
    # Released from the order, held again by the campaign: sellable did not get it.
    assert (await figures(stack))[(sku, sh01)] == (before[0], before[1] + 1)

    second = await buy(api, sale["id"], sku, customer_id=902, key="flash-902")
    assert second.status_code == 201, second.text  # the next buyer takes the unit


async def one_unit_sold(
    stack: Stack, api: httpx.AsyncClient, *, customer_id: int
) -> tuple[Json, int, httpx.Response]:
    """An open sale of one unit (limit 1) of an SH01 SKU, bought by `customer_id` (key
    `flash-<customer>`): the sale, its SKU and the 201."""
    ops = await staff(api, "ops")
    [sku] = await skus_in(stack, "SH01")
    sh01 = await warehouse_id(stack, "SH01")
    sale = await create_flash_sale(
        api, ops, sku_id=sku, warehouse_id=sh01, price_fen=1, quantity=1, limit=1
    )
    await wait_flash_status(api, sale["id"], "open", ops)
    first = await buy(api, sale["id"], sku, customer_id=customer_id, key=f"flash-{customer_id}")
    assert first.status_code == 201, first.text
    return sale, sku, first


async def test_refused_buyers_are_answered_while_another_transaction_holds_the_sale_row(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    """A sold-out or over-limit buyer is refused from the committed figures: not queued behind
    a transaction holding the sale's row (an order taking its unit, a release), which is still
    open when the answers arrive."""
    sale, sku, _ = await one_unit_sold(stack, api, customer_id=1101)

    async with stack.sessions() as holder:  # holds the row as the order's reserve step does
        held = await holder.execute(
            text("UPDATE flash_sales SET held = held WHERE id = :id RETURNING sold, total"),
            {"id": sale["id"]},
        )
        assert tuple(held.one()) == (1, 1)
        sold_out, again = await asyncio.wait_for(  # a buyer waiting on the row would hang here
            asyncio.gather(
                buy(api, sale["id"], sku, customer_id=1102, key="flash-1102"),
                buy(api, sale["id"], sku, customer_id=1101, key="flash-1101b"),
            ),
            timeout=60,
        )
        assert holder.in_transaction()  # the row is still held: nobody waited for it
        await holder.rollback()
    assert problem(sold_out, 409)["errors"][0]["reason"] == "sold_out"
    assert problem(again, 409)["errors"][0]["reason"] == "over_limit"
    assert await orders_started(stack, 1102) == 0
    assert await orders_started(stack, 1101) == 1
    async with stack.sessions() as session:
        keys = await session.scalar(
            text(
                "SELECT count(*) FROM order_numbers "
                "WHERE client_order_key IN ('flash-1102', 'flash-1101b')"
            )
        )
    assert keys == 0  # refused: no order number taken for either key
    async with stack.sessions() as session:
        audited = (
            await session.execute(
                select(AuditEntry.action, AuditEntry.status_code, AuditEntry.actor_type,
                       AuditEntry.detail["reason"].as_string())
                .where(AuditEntry.detail["flash_sale_id"].as_integer() == sale["id"])
                .order_by(AuditEntry.id)
            )
        ).all()  # fmt: skip
    assert sorted(tuple(row) for row in audited) == [  # one row per refusal, as every write
        ("POST /v1/orders", 409, "api_key", "over_limit"),
        ("POST /v1/orders", 409, "api_key", "sold_out"),
    ]
    async with stack.sessions() as session:  # the look writes the row every write gets
        whole = (
            await session.execute(
                select(AuditEntry.method, AuditEntry.path, AuditEntry.roles,
                       AuditEntry.actor_name == ApiKey.name, AuditEntry.client_ip,
                       AuditEntry.object_type, AuditEntry.at.isnot(None))
                .join(ApiKey, AuditEntry.actor_id == cast(ApiKey.id, String))
                .where(AuditEntry.detail["flash_sale_id"].as_integer() == sale["id"])
            )
        ).all()  # fmt: skip
    assert len(whole) == 2
    assert {(m, p, tuple(roles), *rest) for m, p, roles, *rest in whole} == {
        ("POST", "/v1/orders", ("storefront",), True, "127.0.0.1", "", True)
    }


async def test_only_a_refusal_commits_without_waiting_for_the_disk(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    """The look that refuses (and writes its audit row) turns synchronous commit off for its
    own transaction; a look that lets the buyer through to the gate leaves it on, so a claim's
    commit still waits for the disk."""
    sale, sku, first = await one_unit_sold(stack, api, customer_id=1201)
    async with stack.sessions() as session:
        key = await session.scalar(
            select(Order.api_key_id).where(Order.order_no == first.json()["order_no"])
        )
    assert key is not None
    row = {"actor_type": "api_key", "actor_id": str(key), "actor_name": "shop",
           "roles": ["storefront"], "action": "POST /v1/orders", "method": "POST",
           "path": "/v1/orders", "object_type": "", "object_id": "", "status_code": 409,
           "client_ip": "127.0.0.1", "detail": "{}"}  # fmt: skip
    found = {}
    for client_key in ("flash-1201", "flash-1201-again"):  # its own order; then over the limit
        async with stack.sessions() as session:
            # The test server commits asynchronously throughout (tests/conftest.py): this
            # transaction starts as production's do.
            await session.execute(text("SET LOCAL synchronous_commit TO on"))
            seen = await flash_gate.look(
                session, flash_sale_id=sale["id"], api_key_id=key, client_key=client_key,
                customer_id=1201, sku_id=sku, quantity=1, refusal_audit=row,
            )  # fmt: skip
            mode = await session.scalar(text("SHOW synchronous_commit"))
            await session.rollback()
        found[client_key] = (seen.refusal, seen.audited, mode)
    assert found == {
        "flash-1201": (None, False, "on"),
        "flash-1201-again": ("over_limit", True, "off"),
    }


async def test_a_unit_given_back_after_sold_out_answers_is_sold_to_the_next_buyer_at_once(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    """Nothing remembers "sold out": the first buyer after the unit comes back gets it."""
    sale, sku, first = await one_unit_sold(stack, api, customer_id=1201)
    ops = await staff(api, "ops")
    for n in range(3):
        refused = problem(await buy(api, sale["id"], sku, customer_id=1202, key=f"k{n}"), 409)
        assert refused["errors"][0]["reason"] == "sold_out"

    number = first.json()["order_no"]
    cancelled = await api.post(
        f"/v1/orders/{number}/cancel", json={"reason": "不想要了"}, headers=SHOP
    )
    assert cancelled.status_code == 200, cancelled.text

    async def released() -> FlashClaim | None:
        async with stack.sessions() as session:
            claim = await session.get(FlashClaim, number)
        return claim if claim is not None and claim.status == "released" else None

    assert (await eventually(released, "the unit given back")).returned_to == "campaign"
    second = await buy(api, sale["id"], sku, customer_id=1202, key="flash-1202")
    assert second.status_code == 201, second.text  # the very next request, no wait
    shown = await flash_sale(api, sale["id"], ops)
    assert (shown["sold"], shown["remaining"], shown["released_orders"]) == (1, 0, 1)
    late = problem(await buy(api, sale["id"], sku, customer_id=1203, key="flash-1203"), 409)
    assert late["errors"][0]["reason"] == "sold_out"


async def test_a_claim_whose_order_never_starts_gives_its_unit_back_to_the_campaign(
    stack: Stack, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim commits before the order's workflow starts; when that start fails and no
    workflow has the order's id, the unit goes back to the campaign for the next buyer."""
    ops = await staff(api, "ops")
    [sku] = await skus_in(stack, "SH01")
    sh01 = await warehouse_id(stack, "SH01")
    sale = await create_flash_sale(
        api, ops, sku_id=sku, warehouse_id=sh01, price_fen=1, quantity=1, limit=1
    )
    await wait_flash_status(api, sale["id"], "open", ops)

    async def unavailable(*_args: object, **_kwargs: object) -> None:
        raise RPCError("Temporal is unavailable", RPCStatusCode.UNAVAILABLE, b"")

    monkeypatch.setattr(stack.client, "execute_update_with_start_workflow", unavailable)
    failed = await buy(api, sale["id"], sku, customer_id=1301, key="flash-1301")
    monkeypatch.undo()
    assert failed.status_code == 503, failed.text
    async with stack.sessions() as session:
        claim = await session.scalar(
            select(FlashClaim).where(
                FlashClaim.flash_sale_id == sale["id"], FlashClaim.customer_id == 1301
            )
        )
    assert claim is not None and (claim.status, claim.returned_to) == ("released", "campaign")
    shown = await flash_sale(api, sale["id"], ops)
    assert (shown["sold"], shown["remaining"], shown["held"]) == (0, 1, 1)

    second = await buy(api, sale["id"], sku, customer_id=1302, key="flash-1302")
    assert second.status_code == 201, second.text  # the unit was sellable again
    retried = await buy(api, sale["id"], sku, customer_id=1301, key="flash-1301")
    assert retried.status_code != 201, retried.text  # its claim went back: never sold twice
    assert await orders_started(stack, 1302) == 1
    shown = await flash_sale(api, sale["id"], ops)
    assert (shown["sold"], shown["remaining"]) == (1, 0)
    assert (await reservations(stack, second.json()["order_no"]))[0].quantity == 1


async def test_the_schedule_opens_the_window_and_its_end_closes_it(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    ops = await staff(api, "ops")
    [sku] = await skus_in(stack, "SH01")
    sh01 = await warehouse_id(stack, "SH01")
    before = (await figures(stack))[(sku, sh01)]
    # 10 s before it opens: room for the early buyer on a loaded machine (a call took seconds)
    sale = await create_flash_sale(
        api, ops, sku_id=sku, warehouse_id=sh01, price_fen=1, quantity=4,
        opens_in=timedelta(seconds=10), lasts=timedelta(seconds=4),
    )  # fmt: skip
    assert sale["status"] == "scheduled"
    early = problem(await buy(api, sale["id"], sku, customer_id=950, key="flash-950"), 409)
    assert early["errors"][0]["reason"] == "not_open"
    description = await stack.client.get_schedule_handle(f"flash-{sale['flash_no']}").describe()
    assert description.schedule.state.remaining_actions == 1
    closing = stack.client.get_schedule_handle(f"flash-close-{sale['flash_no']}")
    assert (await closing.describe()).schedule.state.remaining_actions == 1

    opened = await wait_flash_status(api, sale["id"], "open", ops, seconds=30)
    assert opened["total"] == 4
    closed = await wait_flash_status(api, sale["id"], "closed", ops, seconds=30)
    assert (closed["returned"], closed["closed_by"]) == (4, "system:flash-sale")
    assert closed["close_reason"] == "window ended"
    # Closed by its closing schedule's workflow, not by the sale's backstop a minute later.
    [fired] = (await closing.describe()).info.recent_actions
    assert isinstance(fired.action, ScheduleActionExecutionStartWorkflow)
    told = stack.client.get_workflow_handle(fired.action.workflow_id)
    assert await told.result() is True
    ends = datetime.fromisoformat(sale["ends_at"])
    assert datetime.fromisoformat(closed["closed_at"]) < ends + BACKSTOP
    assert (await figures(stack))[(sku, sh01)] == before
    assert await campaign_movements(stack, sale["flash_no"]) == [
        ("reservation", 4),
        ("release", -4),
    ]


async def test_creating_and_buying_refuse_what_a_flash_sale_cannot_be(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    ops = await staff(api, "ops")
    [sku, other] = await skus_in(stack, "SH01", 2)
    sh01 = await warehouse_id(stack, "SH01")
    price = await list_price(stack, sku)
    good = {
        "name": "秒杀", "sku_id": sku, "warehouse_id": sh01, "price_fen": 100, "quantity": 5,
        "per_customer_limit": 1, "starts_at": "2030-01-01T10:00:00+08:00",
        "ends_at": "2030-01-01T12:00:00+08:00",
    }  # fmt: skip
    for change, field in (
        ({"ends_at": "2030-01-01T09:00:00+08:00"}, "ends_at"),
        ({"price_fen": price}, "price_fen"),
        ({"per_customer_limit": 6}, "per_customer_limit"),
        ({"starts_at": "2030-01-01T10:00:00"}, "starts_at"),  # no offset
    ):
        refused = problem(
            await api.post("/v1/flash-sales", json={**good, **change}, headers=ops), 422
        )
        assert field in refused["detail"]
    problem(await api.post("/v1/flash-sales", json=good, headers=SHOP), 403)
    sale = await create_flash_sale(
        api, ops, sku_id=sku, warehouse_id=sh01, price_fen=100, quantity=5, opens_in=timedelta(0)
    )
    await wait_flash_status(api, sale["id"], "open", ops)
    body = {
        "client_order_key": "two-lines", "customer_id": 1, "flash_sale_id": sale["id"],
        "lines": [{"sku_id": sku, "quantity": 1}, {"sku_id": other, "quantity": 1}],
        "address": {"name": "李四", "phone": "13900000000", "region_code": "310115",
                    "detail": "浦东新区 1 号"},
    }  # fmt: skip
    problem(await api.post("/v1/orders", json=body, headers=SHOP), 422)
    wrong_sku = problem(await buy(api, sale["id"], other, customer_id=2, key="wrong"), 409)
    assert wrong_sku["errors"][0]["reason"] == "not_open"
    too_many = problem(await buy(api, sale["id"], sku, customer_id=3, key="many", quantity=2), 409)
    assert too_many["errors"][0]["reason"] == "over_limit"
    assert (await flash_sale(api, sale["id"], ops))["sold"] == 0
    same = await asyncio.gather(
        *(buy(api, sale["id"], sku, customer_id=4, key="same-key") for _ in range(3))
    )
    assert [a.status_code for a in same] == [201, 201, 201], [a.text for a in same]
    numbers = {a.json()["order_no"] for a in same}
    assert len(numbers) == 1 and re.fullmatch(r"SO\d{8}\d{6,}", numbers.pop())
    assert (await flash_sale(api, sale["id"], ops))["sold"] == 1  # one claim for the key
