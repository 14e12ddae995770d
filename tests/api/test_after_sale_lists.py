"""The staff's after-sale list (`GET /v1/after-sales`) over the whole back office: every filter
keeps the after-sales it names and drops the others, and the "stuck" list shows what has not
moved for N days, how long it has been idle and what it waits for.

Time is moved in the projection the list reads (its SLA and last-progress times), not waited
for: the workflows behind the rows are real, their timers days away."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import update

from models.db import AfterSale
from tests.support.after_sale_api import delivered, numbers, open_after_sale, shown_as
from tests.support.order_api import Json, skus_in, staff
from tests.support.orders import SHOP
from tests.support.stack import Stack

LIST = "/v1/after-sales"


async def backdate(
    stack: Stack, as_no: str, *, progress: timedelta, sla: timedelta | None = None
) -> None:
    """Move the after-sale's last progress (and its SLA due time) this far into the past."""
    now = datetime.now(UTC)
    values: dict[str, object] = {"last_progress_at": now - progress}
    if sla is not None:
        values["sla_due_at"] = now - sla
    async with stack.sessions() as session:
        done = await session.execute(
            update(AfterSale).where(AfterSale.as_no == as_no).values(**values)
        )
        assert getattr(done, "rowcount", 0) == 1
        await session.commit()


async def listed(api: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> Json:
    answer = await api.get(LIST, params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    page: Json = answer.json()
    assert page["count"] == len(page["data"]), page  # every row fits one page here
    return page


def line_of(order: Json, sku_id: int) -> int:
    return int(next(x["line_no"] for x in order["lines"] if x["sku_id"] == sku_id))


async def approve(api: httpx.AsyncClient, headers: dict[str, str], as_no: str) -> None:
    decided = await api.post(
        f"/v1/after-sales/{as_no}/decision", headers=headers, json={"approve": True}
    )
    assert decided.status_code == 200, decided.text


async def test_each_filter_of_the_staff_list_keeps_what_it_names_and_drops_the_rest(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    nuts, tea = await skus_in(stack, "SH01", 2, only=True)
    first = await delivered(stack, api, carrier, [(nuts, 2), (tea, 2)], key="cart-1")
    second = await delivered(stack, api, carrier, [(nuts, 3)], key="cart-2")
    cs = await staff(api, "cs")
    a = await open_after_sale(
        api, first["order_no"], "a", "refund_only", [(line_of(first, nuts), 1)]
    )
    b = await open_after_sale(
        api, first["order_no"], "b", "return_and_refund", [(line_of(first, tea), 1)]
    )
    await approve(api, cs, b)
    await shown_as(api, b, "awaiting_return")
    c = await open_after_sale(api, second["order_no"], "c", "refund_only", [(1, 1)])
    d = await open_after_sale(api, second["order_no"], "d", "refund_only", [(1, 1)])
    withdrawn = await api.post(f"/v1/after-sales/{d}/withdraw", headers=SHOP)
    assert withdrawn.status_code == 200, withdrawn.text
    await shown_as(api, d, "withdrawn")
    await backdate(
        stack, a, progress=timedelta(hours=1), sla=timedelta(minutes=1)
    )  # undecided past its SLA

    async def found(**params: Any) -> set[str]:
        return set(numbers(await listed(api, cs, **params)))

    assert await found() == {a, b, c, d}
    assert await found(status="requested") == {a, c}
    assert await found(status="awaiting_return") == {b}
    assert await found(status="withdrawn") == {d}
    assert await found(type="return_and_refund") == {b}
    assert await found(type="refund_only") == {a, c, d}
    assert await found(order_no=first["order_no"]) == {a, b}
    assert await found(order_no=second["order_no"]) == {c, d}
    assert await found(sku_id=tea) == {b}
    assert await found(sku_id=nuts) == {a, c, d}
    assert await found(overdue="true") == {a}
    assert await found(overdue="false") == {b, c, d}
    assert await found(status="requested", order_no=second["order_no"]) == {c}
    assert await found(status="rejected") == set()
    for typo in ({"status": "requestd"}, {"type": "refund"}):
        assert (await api.get(LIST, params=typo, headers=cs)).status_code == 422, typo


async def test_the_stuck_list_shows_what_has_not_moved_for_days_how_long_and_why(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    [nuts] = await skus_in(stack, "SH01", 1, only=True)
    order = await delivered(stack, api, carrier, [(nuts, 4)])
    number = order["order_no"]
    cs = await staff(api, "cs")
    undecided = await open_after_sale(api, number, "old", "refund_only", [(1, 1)])
    returning = await open_after_sale(api, number, "ret", "return_and_refund", [(1, 1)])
    await approve(api, cs, returning)
    await shown_as(api, returning, "awaiting_return")
    recent = await open_after_sale(api, number, "new", "refund_only", [(1, 1)])
    ended = await open_after_sale(api, number, "gone", "refund_only", [(1, 1)])
    assert (await api.post(f"/v1/after-sales/{ended}/withdraw", headers=SHOP)).status_code == 200
    await shown_as(api, ended, "withdrawn")
    await backdate(stack, undecided, progress=timedelta(days=3, minutes=30))
    await backdate(stack, returning, progress=timedelta(days=5, minutes=30))
    await backdate(
        stack, ended, progress=timedelta(days=10)
    )  # ended long ago: not stuck, just done

    stuck = await listed(api, cs, stuck_days=2)
    rows = [(r["as_no"], r["idle_hours"], r["waiting_for"], r["status"]) for r in stuck["data"]]
    assert rows == [  # the longest idle first
        (returning, 120, "the customer to ship the goods back", "awaiting_return"),
        (undecided, 72, "customer service's decision", "requested"),
    ]
    assert numbers(await listed(api, cs, stuck_days=4)) == [returning]
    assert numbers(await listed(api, cs, stuck_days=6)) == []
    assert numbers(await listed(api, cs, stuck_days=2, status="requested")) == [undecided]
    fresh = (await api.get(f"/v1/after-sales/{recent}", headers=cs)).json()
    assert (fresh["idle_hours"], fresh["waiting_for"]) == (0, "customer service's decision")
    problem = await api.get(LIST, params={"stuck_days": 0}, headers=cs)
    assert problem.status_code == 422, problem.text
