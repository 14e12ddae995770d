"""Long polls of an order and a package over HTTP (api/watching.py): a client that already holds
the current ETag and says `Prefer: wait=N` is answered as soon as the object changes (told by
PostgreSQL NOTIFY from the projection write), or 304 when nothing changed within N seconds;
without the preference it is answered at once. Waiting holds no database connection."""

from __future__ import annotations

import asyncio

import httpx

from tests.support.order_api import (
    http,
    lines_of,
    only_in,
    order_body,
    pay,
    place_order,
    wait_released,
)
from tests.support.orders import SHOP
from tests.support.stack import Stack


async def _placed(stack: Stack, api: httpx.AsyncClient) -> str:
    body = order_body(lines_of((await only_in(stack, "SH01"), 1)), key="watch-1")
    return str((await place_order(api, body))["order_no"])


async def test_a_waiting_read_answers_when_the_order_changes_and_304_when_it_does_not(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    number = await _placed(stack, api)
    path = f"/v1/orders/{number}"
    first = await api.get(path, headers=SHOP)
    tag = first.headers["etag"]
    same = await api.get(path, headers={**SHOP, "If-None-Match": tag})
    quiet = await api.get(path, headers={**SHOP, "If-None-Match": tag, "Prefer": "wait=1"})
    waiting = asyncio.create_task(
        api.get(path, headers={**SHOP, "If-None-Match": tag, "Prefer": "wait=25"})
    )
    await asyncio.sleep(0.3)
    assert not waiting.done()  # nothing changed yet: it waits
    async with http(stack.payments) as provider:
        await pay(api, provider, number)
    changed = await asyncio.wait_for(waiting, 20)  # well before its 25 s
    assert (first.status_code, first.json()["status"]) == (200, "awaiting_payment")
    assert (same.status_code, same.headers["etag"]) == (304, tag)  # a plain conditional GET
    assert (quiet.status_code, quiet.headers["etag"]) == (304, tag)
    assert changed.status_code == 200
    assert changed.headers["etag"] != tag
    assert len(changed.json()["timeline"]) > len(first.json()["timeline"])  # the payment's step
    seen, view = changed.headers["etag"], changed.json()
    while view["status"] == "awaiting_payment":  # each answer is a change, until it is paid
        answer = await api.get(path, headers={**SHOP, "If-None-Match": seen, "Prefer": "wait=20"})
        assert answer.status_code == 200, "nothing changed in 20 s"
        seen, view = answer.headers["etag"], answer.json()
    assert view["status"] in ("paid", "fulfilling")


async def test_waiters_hold_no_database_connection_and_packages_can_be_waited_on(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    number = await _placed(stack, api)
    path = f"/v1/orders/{number}"
    tag = (await api.get(path, headers=SHOP)).headers["etag"]
    headers = {**SHOP, "If-None-Match": tag, "Prefer": "wait=12"}
    waiters = [asyncio.create_task(api.get(path, headers=headers)) for _ in range(30)]
    await asyncio.sleep(0.5)
    # More waiters than the pool has connections (5 in these tests): reads still go through. Had
    # the waiters held them, this read would wait for their 12 s; given 10 s, it fails then. (It
    # had 3 s against a 4 s wait: a CI run on a loaded machine took longer for the read itself.)
    other = await asyncio.wait_for(api.get("/v1/stock", headers=SHOP), 10)
    answers = await asyncio.gather(*waiters)
    assert other.status_code == 200
    assert {a.status_code for a in answers} == {304}

    async with http(stack.payments) as provider:
        await pay(api, provider, number)
    [parcel] = (await wait_released(api, number))["packages"]  # now it waits for a wave
    device = {"X-API-Key": "hk_demosh01_houtai-demo-device-key-shanghai-not-secret"}
    package = f"/v1/packages/{parcel['package_no']}"
    shown = await api.get(package, headers=device)
    again = await api.get(
        package, headers={**device, "If-None-Match": shown.headers["etag"], "Prefer": "wait=1"}
    )
    assert shown.status_code == 200 and again.status_code == 304
