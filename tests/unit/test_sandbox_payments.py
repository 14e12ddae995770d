"""The sandbox payment provider: idempotent payments, signed (duplicated, retried) webhooks,
capped idempotent refunds, the daily statement with planted mismatches, injected 503s."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI, Request, Response

from core.security import signature_valid
from sandbox.common import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookPolicy, serve
from sandbox.payments import PaymentConfig, PaymentProvider, create_payment_app

SECRET = "whsec-" + "p" * 40
FAST_RETRIES = WebhookPolicy(max_attempts=4, timeout_s=2.0, backoff_s=0.02)


@dataclass
class Inbox:
    """A merchant endpoint on a real port that records what arrives; can fail the first calls."""

    fail_first: int = 0
    calls: int = 0
    received: list[tuple[str, str, bytes]] = field(default_factory=list)  # timestamp, sig, body
    url: str = ""
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/hook")
        async def hook(request: Request) -> Response:
            self.calls += 1
            if self.calls <= self.fail_first:
                return Response(status_code=500)
            headers = request.headers
            body = await request.body()
            async with self.changed:
                self.received.append((headers[TIMESTAMP_HEADER], headers[SIGNATURE_HEADER], body))
                self.changed.notify_all()
            return Response(status_code=204)

        return app

    async def wait_for(self, count: int, timeout_s: float = 5.0) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout_s), self.changed:
            await self.changed.wait_for(lambda: len(self.received) >= count)
        return [json.loads(body) for _, _, body in self.received]

    def all_signed_with(self, secret: str) -> bool:
        return all(
            signature_valid(secret.encode(), body, ts, sig) for ts, sig, body in self.received
        )


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime(2026, 3, 14, 9, 30, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


@pytest_asyncio.fixture
async def inbox() -> AsyncIterator[Inbox]:
    box = Inbox()
    async with serve(box.app()) as base:
        box.url = f"{base}/hook"
        yield box


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest_asyncio.fixture
async def provider_app(clock: Clock) -> AsyncIterator[FastAPI]:
    app = create_payment_app(
        PaymentConfig(webhook_secret=SECRET, webhook=FAST_RETRIES, seed=1), clock=clock
    )
    yield app
    await provider_of(app).webhooks.aclose()


@pytest_asyncio.fixture
async def pay(provider_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=provider_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://pay.sandbox") as c:
        yield c


def provider_of(app: FastAPI) -> PaymentProvider:
    provider = app.state.provider
    assert isinstance(provider, PaymentProvider)
    return provider


async def create(
    pay: httpx.AsyncClient, order: str, amount: int, url: str, key: str | None = None
) -> httpx.Response:
    body = {
        "merchant_order_no": order,
        "amount_fen": amount,
        "currency": "CNY",
        "notify_url": url,
        "description": "订单 " + order,
    }
    return await pay.post("/v1/payments", json=body, headers={"Idempotency-Key": key or order})


async def paid(pay: httpx.AsyncClient, order: str, amount: int, url: str) -> dict[str, Any]:
    payment = (await create(pay, order, amount, url)).json()
    r = await pay.post(
        f"/v1/payments/{payment['payment_id']}/simulate", json={"outcome": "succeeded"}
    )
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result


async def refund(
    pay: httpx.AsyncClient, payment_id: str, refund_no: str, amount: int
) -> httpx.Response:
    body = {
        "payment_id": payment_id,
        "refund_no": refund_no,
        "amount_fen": amount,
        "reason": "退货",
    }
    return await pay.post("/v1/refunds", json=body)


async def test_payment_creation_is_idempotent_by_key_and_by_order(
    pay: httpx.AsyncClient, inbox: Inbox
) -> None:
    first = await create(pay, "SO1001", 12_345, inbox.url, key="k-1")
    again = await create(pay, "SO1001", 12_345, inbox.url, key="k-1")
    other_key = await create(pay, "SO1001", 12_345, inbox.url, key="k-2")
    assert (first.status_code, again.status_code, other_key.status_code) == (201, 200, 200)
    payment = first.json()
    assert again.json() == payment and other_key.json() == payment
    assert payment["status"] == "pending"
    assert payment["amount_fen"] == 12_345 and payment["currency"] == "CNY"
    assert payment["merchant_order_no"] == "SO1001" and payment["pay_token"].startswith("ptk_")
    fetched = (await pay.get(f"/v1/payments/{payment['payment_id']}")).json()
    assert fetched["payment_id"] == payment["payment_id"] and fetched["status"] == "pending"
    assert (await create(pay, "SO1002", 12_345, inbox.url)).json()["payment_id"] != payment[
        "payment_id"
    ]


async def test_same_order_with_another_amount_is_a_conflict(
    pay: httpx.AsyncClient, inbox: Inbox
) -> None:
    await create(pay, "SO2001", 5_000, inbox.url)
    wrong = await create(pay, "SO2001", 5_001, inbox.url, key="other-key")
    assert wrong.status_code == 409
    assert wrong.headers["content-type"].startswith("application/problem+json")
    assert wrong.json()["status"] == 409
    reused_key = await create(pay, "SO2002", 5_000, inbox.url, key="SO2001")
    assert reused_key.status_code == 409
    assert (await pay.get("/v1/payments/pay_nope")).status_code == 404


@pytest.mark.parametrize(
    ("change", "value"),
    [("amount_fen", 0), ("amount_fen", 1.5), ("amount_fen", "100"), ("currency", "USD")],
)
async def test_invalid_payments_are_rejected(
    pay: httpx.AsyncClient, change: str, value: object
) -> None:
    body = {"merchant_order_no": "SO3", "amount_fen": 100, "notify_url": "http://x.test/h"}
    r = await pay.post(
        "/v1/payments", json={**body, change: value}, headers={"Idempotency-Key": "k"}
    )
    assert r.status_code == 422
    no_key = await pay.post("/v1/payments", json=body)
    assert no_key.status_code == 422


async def test_success_webhook_is_signed_and_duplicates_repeat_the_same_body(
    pay: httpx.AsyncClient, inbox: Inbox
) -> None:
    faults = {"duplicate_webhooks": 2, "webhook_delay_ms": 50}
    assert (await pay.put("/_sandbox/faults", json=faults)).status_code == 200
    result = await paid(pay, "SO4001", 9_900, inbox.url)
    payloads = await inbox.wait_for(3)
    await asyncio.sleep(0.1)
    assert len(inbox.received) == 3
    assert inbox.all_signed_with(SECRET)
    assert not inbox.all_signed_with("another-secret")
    ts, sig, body = inbox.received[0]
    assert not signature_valid(SECRET.encode(), body.replace(b"9900", b"9901"), ts, sig)
    assert len({body for _, _, body in inbox.received}) == 1
    event = payloads[0]
    tx = result["webhook"]["transaction_id"]
    assert tx.startswith("TX") and event["transaction_id"] == tx
    assert event["event"] == "payment.succeeded"
    assert event["payment_id"] == result["payment"]["payment_id"]
    assert (event["merchant_order_no"], event["amount_fen"], event["currency"]) == (
        "SO4001",
        9_900,
        "CNY",
    )
    assert dt.datetime.fromisoformat(event["occurred_at"]).tzinfo is not None
    view = (await pay.get(f"/v1/payments/{event['payment_id']}")).json()
    assert (view["status"], view["paid_fen"], view["transaction_id"]) == ("succeeded", 9_900, tx)
    again = await pay.post(
        f"/v1/payments/{event['payment_id']}/simulate", json={"outcome": "succeeded"}
    )
    assert again.status_code == 409


async def test_webhook_is_retried_until_the_receiver_answers_2xx(
    pay: httpx.AsyncClient, inbox: Inbox, provider_app: FastAPI
) -> None:
    inbox.fail_first = 2
    await paid(pay, "SO5001", 100, inbox.url)
    await inbox.wait_for(1)
    await provider_of(provider_app).webhooks.drain()
    log = (await pay.get("/_sandbox/deliveries")).json()
    assert [(d["attempt"], d["status_code"]) for d in log] == [(1, 500), (2, 500), (3, 204)]
    assert inbox.calls == 3 and len(inbox.received) == 1


async def test_wrong_amount_callback_and_declines(pay: httpx.AsyncClient, inbox: Inbox) -> None:
    payment = (await create(pay, "SO6001", 8_000, inbox.url)).json()
    pid = payment["payment_id"]
    declined = await pay.post(f"/v1/payments/{pid}/simulate", json={"outcome": "declined"})
    assert declined.json()["payment"]["status"] == "declined"
    assert (await refund(pay, pid, "RN-declined", 1)).status_code == 409
    wrong = await pay.post(
        f"/v1/payments/{pid}/simulate", json={"outcome": "succeeded", "amount_fen": 7_999}
    )
    assert wrong.status_code == 200
    events = await inbox.wait_for(2)
    assert [e["event"] for e in events] == ["payment.declined", "payment.succeeded"]
    assert events[0]["transaction_id"] is None
    assert events[1]["amount_fen"] == 7_999
    view = (await pay.get(f"/v1/payments/{pid}")).json()
    assert (view["amount_fen"], view["paid_fen"]) == (8_000, 7_999)
    assert (await refund(pay, pid, "RN-all", 8_000)).status_code == 409
    assert (await refund(pay, pid, "RN-all", 7_999)).status_code == 201


async def test_refunds_are_idempotent_per_refund_no_and_capped_at_paid(
    pay: httpx.AsyncClient, inbox: Inbox
) -> None:
    pid = (await paid(pay, "SO7001", 10_000, inbox.url))["payment"]["payment_id"]
    first = await refund(pay, pid, "AS1", 3_000)
    again = await refund(pay, pid, "AS1", 3_000)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["refund_id"] == again.json()["refund_id"]
    assert first.json()["status"] == "succeeded" and first.json()["amount_fen"] == 3_000
    assert (await refund(pay, pid, "AS1", 2_000)).status_code == 409
    too_much = await refund(pay, pid, "AS2", 7_001)
    assert too_much.status_code == 409 and too_much.json()["refundable_fen"] == 7_000
    assert (await refund(pay, pid, "AS2", 7_000)).status_code == 201
    assert (await refund(pay, pid, "AS3", 1)).status_code == 409
    view = (await pay.get(f"/v1/payments/{pid}")).json()
    assert (view["paid_fen"], view["refunded_fen"]) == (10_000, 10_000)
    events = await inbox.wait_for(3)
    refunds = [e for e in events if e["event"] == "refund.succeeded"]
    assert sorted((e["refund_no"], e["amount_fen"]) for e in refunds) == [
        ("AS1", 3_000),
        ("AS2", 7_000),
    ]
    assert inbox.all_signed_with(SECRET)


async def test_concurrent_refunds_never_exceed_the_payment(
    pay: httpx.AsyncClient, inbox: Inbox
) -> None:
    pid = (await paid(pay, "SO7101", 10_000, inbox.url))["payment"]["payment_id"]
    answers = await asyncio.gather(*(refund(pay, pid, f"R{i}", 1_500) for i in range(12)))
    assert sorted(r.status_code for r in answers) == [201] * 6 + [409] * 6
    assert (await pay.get(f"/v1/payments/{pid}")).json()["refunded_fen"] == 9_000


async def test_concurrent_creations_of_one_order_make_one_payment(
    pay: httpx.AsyncClient, inbox: Inbox
) -> None:
    answers = await asyncio.gather(
        *(create(pay, "SO7201", 500, inbox.url, key=f"key-{i}") for i in range(10))
    )
    assert len({r.json()["payment_id"] for r in answers}) == 1
    assert sorted(r.status_code for r in answers) == [200] * 9 + [201]


async def test_statement_lists_the_days_payments_and_refunds_and_planted_mismatches(
    pay: httpx.AsyncClient, inbox: Inbox, clock: Clock
) -> None:
    a = (await paid(pay, "SO8001", 10_000, inbox.url))["webhook"]
    clock.now += dt.timedelta(days=1)
    r = (await refund(pay, a["payment_id"], "AS8001", 2_500)).json()
    b = (await paid(pay, "SO8002", 4_000, inbox.url))["webhook"]
    day1 = (await pay.get("/v1/statements/2026-03-14")).json()
    assert [(e["type"], e["entry_id"], e["amount_fen"]) for e in day1["entries"]] == [
        ("payment", a["transaction_id"], 10_000)
    ]
    day2 = (await pay.get("/v1/statements/2026-03-15")).json()
    assert [(e["type"], e["entry_id"], e["amount_fen"]) for e in day2["entries"]] == [
        ("refund", r["refund_id"], 2_500),
        ("payment", b["transaction_id"], 4_000),
    ]
    assert day2["entries"][0]["refund_no"] == "AS8001"
    assert day2["entries"][0]["transaction_id"] == a["transaction_id"]
    assert (day2["payments_fen"], day2["refunds_fen"], day2["net_fen"]) == (4_000, 2_500, 1_500)

    altered = {"kind": "alter_amount", "entry_id": b["transaction_id"], "amount_fen": 3_999}
    assert (await pay.post("/_sandbox/statement-mismatch", json=altered)).status_code == 201
    phantom = {"kind": "phantom", "amount_fen": 777, "date": "2026-03-15"}
    planted = (await pay.post("/_sandbox/statement-mismatch", json=phantom)).json()
    day2 = (await pay.get("/v1/statements/2026-03-15")).json()
    amounts = {e["entry_id"]: e["amount_fen"] for e in day2["entries"]}
    assert amounts == {r["refund_id"]: 2_500, b["transaction_id"]: 3_999, planted["entry_id"]: 777}
    assert day2["payments_fen"] == 3_999 + 777
    omit = {"kind": "omit", "entry_id": a["transaction_id"]}
    assert (await pay.post("/_sandbox/statement-mismatch", json=omit)).json()[
        "date"
    ] == "2026-03-14"
    assert (await pay.get("/v1/statements/2026-03-14")).json()["entries"] == []
    unknown = {"kind": "omit", "entry_id": "TXNOPE"}
    assert (await pay.post("/_sandbox/statement-mismatch", json=unknown)).status_code == 404
    assert (await pay.get("/v1/statements/2026-02-30")).status_code == 422


async def test_error_rate_one_answers_every_api_call_503(
    pay: httpx.AsyncClient, inbox: Inbox
) -> None:
    payment = (await create(pay, "SO9001", 100, inbox.url)).json()
    assert (await pay.put("/_sandbox/faults", json={"error_rate": 1})).json()["error_rate"] == 1
    failed = await create(pay, "SO9002", 100, inbox.url)
    assert failed.status_code == 503 and failed.headers["retry-after"] == "1"
    assert (await pay.get(f"/v1/payments/{payment['payment_id']}")).status_code == 503
    assert (await pay.get("/v1/statements/2026-03-14")).status_code == 503
    sim = await pay.post(
        f"/v1/payments/{payment['payment_id']}/simulate", json={"outcome": "succeeded"}
    )
    assert sim.status_code == 200  # the customer's side is not the merchant API
    await pay.put("/_sandbox/faults", json={})
    assert (await create(pay, "SO9002", 100, inbox.url)).status_code == 201


async def test_latency_is_added_to_api_calls(pay: httpx.AsyncClient) -> None:
    await pay.put("/_sandbox/faults", json={"latency_ms": 200})
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert (await pay.get("/v1/statements/2026-03-14")).status_code == 200
    assert loop.time() - started >= 0.2
