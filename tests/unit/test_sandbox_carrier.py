"""The sandbox carrier: waybills idempotent per package (also when the first answer stalled past
the caller's timeout), signed tracking pushes with the full event list, silence, 503s."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI, Request, Response

from core.security import signature_valid
from sandbox.carrier import Carrier, CarrierConfig, create_carrier_app
from sandbox.common import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookPolicy, serve

SECRET = "whsec-" + "c" * 40
SENDER = {
    "name": "华东仓",
    "phone": "02155550000",
    "region_code": "310000",
    "address": "上海市浦东新区1号",
}
RECEIVER = {
    "name": "李雷",
    "phone": "13812345678",
    "region_code": "440305",
    "address": "深圳市南山区科技园2号",
}


@dataclass
class Inbox:
    """A subscriber endpoint on a real port that records the pushes it gets."""

    received: list[tuple[str, str, bytes]] = field(default_factory=list)  # timestamp, sig, body
    url: str = ""
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/tracking")
        async def push(request: Request) -> Response:
            body = await request.body()
            headers = request.headers
            async with self.changed:
                self.received.append((headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], body))
                self.changed.notify_all()
            return Response(status_code=200)

        return app

    async def wait_for(self, count: int, timeout_s: float = 5.0) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout_s), self.changed:
            await self.changed.wait_for(lambda: len(self.received) >= count)
        return [json.loads(body) for _, _, body in self.received]


@pytest_asyncio.fixture
async def inbox() -> AsyncIterator[Inbox]:
    box = Inbox()
    async with serve(box.app()) as base:
        box.url = f"{base}/tracking"
        yield box


def make_app() -> FastAPI:
    policy = WebhookPolicy(max_attempts=3, timeout_s=2.0, backoff_s=0.02)
    return create_carrier_app(CarrierConfig(webhook_secret=SECRET, webhook=policy, seed=3))


def carrier_of(app: FastAPI) -> Carrier:
    carrier = app.state.carrier
    assert isinstance(carrier, Carrier)
    return carrier


@pytest_asyncio.fixture
async def carrier_app() -> AsyncIterator[FastAPI]:
    app = make_app()
    yield app
    await carrier_of(app).webhooks.aclose()


@pytest_asyncio.fixture
async def carrier(carrier_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=carrier_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://carrier.sandbox") as c:
        yield c


def waybill_request(package_key: str, **extra: Any) -> dict[str, Any]:
    return {
        "package_key": package_key,
        "carrier_service": "standard",
        "sender": SENDER,
        "receiver": RECEIVER,
        "weight_g": 1_250,
        **extra,
    }


async def test_waybill_is_idempotent_per_package_key(
    carrier: httpx.AsyncClient, carrier_app: FastAPI
) -> None:
    first = await carrier.post("/v1/waybills", json=waybill_request("PK1001"))
    again = await carrier.post("/v1/waybills", json=waybill_request("PK1001", weight_g=999))
    other = await carrier.post("/v1/waybills", json=waybill_request("PK1002"))
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    waybill = first.json()
    assert again.json() == waybill
    assert waybill["tracking_no"].startswith("SF") and waybill["waybill_no"].startswith("WB")
    assert other.json()["tracking_no"] != waybill["tracking_no"]
    label = waybill["label"]
    assert label["format"] == "text"
    assert waybill["tracking_no"] in label["content"] and "PK1001" in label["content"]
    assert "138****5678" in label["content"] and "13812345678" not in label["content"]
    assert sorted(carrier_of(carrier_app).waybills) == ["PK1001", "PK1002"]
    tracking = (await carrier.get(f"/v1/tracking/{waybill['tracking_no']}")).json()
    assert (tracking["status"], tracking["events"]) == ("created", [])


async def test_the_book_lists_each_waybill_once_with_the_calls_that_asked_for_it(
    carrier: httpx.AsyncClient,
) -> None:
    first = (await carrier.post("/v1/waybills", json=waybill_request("PK3001"))).json()
    for _ in range(2):
        await carrier.post("/v1/waybills", json=waybill_request("PK3001"))
    await carrier.post("/v1/waybills", json=waybill_request("PK3002"))
    await carrier.post(
        f"/_sandbox/tracking/{first['tracking_no']}/events", json={"code": "picked_up"}
    )
    book = (await carrier.get("/_sandbox/waybills")).json()["waybills"]
    assert [(w["package_key"], w["requests"], w["status"], w["events"]) for w in book] == [
        ("PK3001", 3, "picked_up", ["picked_up"]),
        ("PK3002", 1, "created", []),
    ]
    assert book[0]["waybill_no"] == first["waybill_no"]


async def test_prepurchased_tracking_number_is_used_once(carrier: httpx.AsyncClient) -> None:
    first = await carrier.post("/v1/waybills", json=waybill_request("PK2001", tracking_no="ZT7001"))
    assert first.status_code == 201 and first.json()["tracking_no"] == "ZT7001"
    clash = await carrier.post("/v1/waybills", json=waybill_request("PK2002", tracking_no="ZT7001"))
    assert clash.status_code == 409
    assert clash.headers["content-type"].startswith("application/problem+json")
    bad = await carrier.post("/v1/waybills", json=waybill_request("PK2003", weight_g=0))
    assert bad.status_code == 422


async def test_a_retry_after_a_stalled_call_gets_the_same_waybill() -> None:
    app = make_app()
    async with serve(app) as base, httpx.AsyncClient(base_url=base, timeout=5) as control:
        stall = {"timeout_rate": 1, "stall_ms": 800}
        assert (await control.put("/_sandbox/faults", json=stall)).status_code == 200
        async with httpx.AsyncClient(base_url=base, timeout=0.2) as impatient:
            with pytest.raises(httpx.ReadTimeout):
                await impatient.post("/v1/waybills", json=waybill_request("PK3001"))
            assert list(carrier_of(app).waybills) == ["PK3001"]  # created despite the timeout
            await control.put("/_sandbox/faults", json={"timeout_rate": 0.5, "stall_ms": 800})
            answers: list[dict[str, Any]] = []
            timeouts = 0
            for _ in range(12):
                try:
                    r = await impatient.post("/v1/waybills", json=waybill_request("PK3001"))
                except httpx.ReadTimeout:
                    timeouts += 1
                    continue
                assert r.status_code == 200  # never a second creation
                answers.append(r.json())
        assert answers and timeouts > 0
        created = carrier_of(app).waybills["PK3001"].view
        assert {(a["waybill_no"], a["tracking_no"]) for a in answers} == {
            (created.waybill_no, created.tracking_no)
        }
        assert len(carrier_of(app).waybills) == 1


async def test_tracking_push_carries_the_full_list_and_a_valid_signature(
    carrier: httpx.AsyncClient, inbox: Inbox
) -> None:
    waybill = (
        await carrier.post("/v1/waybills", json=waybill_request("PK4001", subscribe_url=inbox.url))
    ).json()
    tn = waybill["tracking_no"]
    first = await carrier.post(
        f"/_sandbox/tracking/{tn}/events", json={"code": "picked_up", "location": "上海"}
    )
    assert first.status_code == 201
    await inbox.wait_for(1)
    second = {"code": "in_transit", "description": "离开上海转运中心", "location": "上海"}
    await carrier.post(f"/_sandbox/tracking/{tn}/events", json=second)
    pushes = await inbox.wait_for(2)
    for ts, sig, body in inbox.received:
        assert signature_valid(SECRET.encode(), body, ts, sig)
        assert not signature_valid(b"wrong", body, ts, sig)
    last = pushes[1]
    assert (last["event"], last["tracking_no"], last["package_key"]) == (
        "tracking.updated",
        tn,
        "PK4001",
    )
    assert last["waybill_no"] == waybill["waybill_no"] and last["status"] == "in_transit"
    assert [(e["code"], e["description"]) for e in last["events"]] == [
        ("picked_up", "快件已揽收"),
        ("in_transit", "离开上海转运中心"),
    ]
    assert [e["code"] for e in pushes[0]["events"]] == ["picked_up"]
    polled = (await carrier.get(f"/v1/tracking/{tn}")).json()
    assert polled["events"] == last["events"] and polled["status"] == "in_transit"


async def test_a_silent_carrier_pushes_nothing_but_answers_polls(
    carrier: httpx.AsyncClient, carrier_app: FastAPI, inbox: Inbox
) -> None:
    waybill = (
        await carrier.post("/v1/waybills", json=waybill_request("PK5001", subscribe_url=inbox.url))
    ).json()
    tn = waybill["tracking_no"]
    for code in ("picked_up", "out_for_delivery", "delivered"):
        event = {"code": code, "push": False}
        assert (
            await carrier.post(f"/_sandbox/tracking/{tn}/events", json=event)
        ).status_code == 201
    await carrier_of(carrier_app).webhooks.drain()
    await asyncio.sleep(0.1)
    assert inbox.received == []
    assert (await carrier.get("/_sandbox/deliveries")).json() == []
    polled = (await carrier.get(f"/v1/tracking/{tn}")).json()
    assert polled["status"] == "delivered"
    assert [e["code"] for e in polled["events"]] == ["picked_up", "out_for_delivery", "delivered"]


async def test_cancel_only_before_pickup(carrier: httpx.AsyncClient) -> None:
    one = (await carrier.post("/v1/waybills", json=waybill_request("PK6001"))).json()
    cancelled = await carrier.post(f"/v1/waybills/{one['waybill_no']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    late = await carrier.post(
        f"/_sandbox/tracking/{one['tracking_no']}/events", json={"code": "lost"}
    )
    assert late.status_code == 409
    two = (await carrier.post("/v1/waybills", json=waybill_request("PK6002"))).json()
    await carrier.post(
        f"/_sandbox/tracking/{two['tracking_no']}/events", json={"code": "picked_up"}
    )
    assert (await carrier.post(f"/v1/waybills/{two['waybill_no']}/cancel")).status_code == 409
    assert (await carrier.get("/v1/tracking/SF000000000000")).status_code == 404


async def test_error_rate_one_answers_every_api_call_503(carrier: httpx.AsyncClient) -> None:
    tn = (await carrier.post("/v1/waybills", json=waybill_request("PK7001"))).json()["tracking_no"]
    await carrier.put("/_sandbox/faults", json={"error_rate": 1})
    assert (await carrier.post("/v1/waybills", json=waybill_request("PK7002"))).status_code == 503
    assert (await carrier.get(f"/v1/tracking/{tn}")).status_code == 503
    courier = await carrier.post(f"/_sandbox/tracking/{tn}/events", json={"code": "refused"})
    assert courier.status_code == 201  # the courier's side is not the merchant API
    await carrier.put("/_sandbox/faults", json={})
    assert (await carrier.get(f"/v1/tracking/{tn}")).json()["status"] == "refused"


async def test_anyone_may_follow_a_parcel_it_did_not_ship(
    carrier: httpx.AsyncClient, inbox: Inbox
) -> None:
    """A customer's return: the shop subscribes with its own reference and gets the pushes."""
    parcel = (await carrier.post("/v1/waybills", json=waybill_request("customer-1"))).json()
    tracking_no = parcel["tracking_no"]
    unknown = await carrier.post(
        "/v1/tracking/SF000000000000/subscriptions",
        json={"subscribe_url": inbox.url, "reference": "AS1"},
    )
    followed = await carrier.post(
        f"/v1/tracking/{tracking_no}/subscriptions",
        json={"subscribe_url": inbox.url, "reference": "AS1"},
    )
    await carrier.post(f"/_sandbox/tracking/{tracking_no}/events", json={"code": "picked_up"})
    [push] = await inbox.wait_for(1)
    assert unknown.status_code == 404
    assert (followed.status_code, followed.json()["status"]) == (201, "created")
    assert (push["package_key"], push["tracking_no"], push["status"]) == (
        "AS1",
        tracking_no,
        "picked_up",
    )
