"""Notifications (DESIGN §6.10) end to end: a real process raises one for the roles that can act
(bell, list, read, done once acted upon), and the outbox delivers it once through each channel —
企业微信 and signed 钉钉 robots and e-mail on the sandbox robots + SMTP sink — after the channels
were down for a while and after a sender that died between sending and recording."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select

from activities.notify_outbox import Channels, OutboxPolicy, OutboxSender
from models.contracts.order import OrderPolicy
from models.db import Notification, NotificationDelivery
from models.domain.notifications import dingtalk_url
from sandbox.common import serve
from sandbox.robots import RobotsConfig, create_robots_app
from services.notifications import Due
from tests.support.order_api import lines_of, order_body, place_order, skus_in, staff, warehouse_id
from tests.support.purchasing import supplier_with_products
from tests.support.stack import Stack

Json = dict[str, Any]
DING_SECRET = "SEC-sandbox-secret-for-tests"


class Robots:
    def __init__(self, url: str, smtp_port: int) -> None:
        self.url, self.smtp_port = url, smtp_port

    async def get(self, path: str) -> Json:
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as client:
            answer = await client.get(path)
            assert answer.status_code == 200, answer.text
            found: Json = answer.json()
            return found

    async def down(self, down: bool) -> None:
        async with httpx.AsyncClient(base_url=self.url, timeout=10) as client:
            answer = await client.put("/_sandbox/faults", json={"error_rate": 1.0 if down else 0})
            assert answer.status_code == 200, answer.text


@pytest_asyncio.fixture
async def robots() -> AsyncIterator[Robots]:
    app = create_robots_app(RobotsConfig(webhook_secret="robots-test", smtp_port=0))
    async with serve(app) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            signed = await client.put("/_sandbox/dingtalk/ops-group", json={"secret": DING_SECRET})
            assert signed.status_code == 200
        yield Robots(url, app.state.smtp_port)


def policy(robots: Robots) -> OutboxPolicy:
    return OutboxPolicy(backoff_s=0, send_timeout_s=3, smtp_port=robots.smtp_port)


async def subscribe(api: httpx.AsyncClient, robots: Robots, role: str) -> list[int]:
    admin = await staff(api, "admin")
    ids = []
    for body in (
        {"channel": "wecom", "target": f"{robots.url}/cgi-bin/webhook/send?key={role}"},
        {
            "channel": "dingtalk",
            "target": f"{robots.url}/robot/send?access_token=ops-group",
            "secret": DING_SECRET,
        },
        {"channel": "email", "target": f"{role}@example.com"},
    ):
        answer = await api.post(
            "/v1/notification-subscriptions", json={"role": role, **body}, headers=admin
        )
        assert answer.status_code == 201, answer.text
        assert answer.json()["signed"] is (body["channel"] == "dingtalk")
        ids.append(answer.json()["id"])
    return ids


async def notes(api: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> Json:
    answer = await api.get("/v1/notifications", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    page: Json = answer.json()
    return page


def of(page: Json, kind: str, ref: str) -> list[Json]:
    return [n for n in page["data"] if (n["kind"], n["ref"]) == (kind, ref)]


class Died(Exception):
    """The sender's process died after the channel took the message, before the commit."""


class DyingChannels(Channels):
    async def send(self, due: Due, message: Any) -> None:
        await super().send(due, message)
        raise Died(due.message_id)


async def deliveries(stack: Stack, notification_id: int) -> list[NotificationDelivery]:
    async with stack.sessions() as session:
        return list(
            await session.scalars(
                select(NotificationDelivery)
                .where(NotificationDelivery.notification_id == notification_id)
                .order_by(NotificationDelivery.channel)
            )
        )


async def test_a_po_approval_reaches_its_approvers_once_through_every_channel(
    stack: Stack, api: httpx.AsyncClient, robots: Robots
) -> None:
    await subscribe(api, robots, "purchasing_manager")
    await robots.down(True)  # the channels are down when the PO is submitted

    supplier, [sku, _] = await supplier_with_products(stack)
    sh = await warehouse_id(stack, "SH01")
    buyer = await staff(api, "purchasing")
    body = {
        "supplier_id": supplier,
        "lines": [{"sku_id": sku, "warehouse_id": sh, "quantity": 2000, "unit_price_fen": 2500}],
    }
    created = await api.post("/v1/purchase-orders", json=body, headers=buyer)
    assert created.status_code == 201, created.text
    po_no = created.json()["po_no"]
    submitted = await api.post(f"/v1/purchase-orders/{po_no}/submit", headers=buyer)
    assert submitted.status_code == 200, submitted.text

    # The bell and the list of the roles that can act, and nobody else's.
    manager, finance = await staff(api, "purchasing_manager"), await staff(api, "finance")
    cs = await staff(api, "cs")
    page = await notes(api, manager)
    [note] = of(page, "po_approval", po_no)
    assert note["amount_fen"] == 5_000_000 and note["read"] is False and note["done_at"] is None
    assert "finance" in note["detail"] and "purchasing_manager" in note["detail"]
    assert page["unread"] >= 1
    assert of(await notes(api, finance), "po_approval", po_no)
    assert of(await notes(api, cs), "po_approval", po_no) == []

    bell = (await api.get("/v1/notifications/unread", headers=manager)).json()["unread"]
    read = await api.post(f"/v1/notifications/{note['id']}/read", headers=manager)
    assert read.status_code == 200, read.text
    assert (await api.get("/v1/notifications/unread", headers=manager)).json()["unread"] == bell - 1
    assert of(await notes(api, manager), "po_approval", po_no)[0]["read"] is True
    assert of(await notes(api, finance), "po_approval", po_no)[0]["read"] is False  # per person

    # Down: every channel fails, the attempt is recorded, nothing is marked sent.
    rules = policy(robots)
    channels = Channels(rules)
    try:
        sender = OutboxSender(stack.sessions, channels, rules)
        attempted, sent = await sender.run_once()
        assert (attempted, sent) == (3, 0)
        rows = await deliveries(stack, note["id"])
        assert [(r.channel, r.status, r.attempts) for r in rows] == [
            ("dingtalk", "pending", 1), ("email", "pending", 1), ("wecom", "pending", 1)
        ]  # fmt: skip
        assert all(r.last_error for r in rows)
        assert (await robots.get("/_sandbox/messages"))["messages"] == []
        assert (await robots.get("/_sandbox/mails"))["refused"] == 1

        # Up again, but the sender dies after each channel took its message, before recording.
        await robots.down(False)
        dying = DyingChannels(rules)
        try:
            with pytest.raises(Died):
                await OutboxSender(stack.sessions, dying, rules).run_once()
        finally:
            await dying.aclose()
        assert {r.status for r in await deliveries(stack, note["id"])} == {"pending"}

        # The next sender sends again with the same message ids: the receivers keep one each.
        assert await sender.run_once() == (3, 3)
        assert await sender.run_once() == (0, 0)  # sent is never sent again
    finally:
        await channels.aclose()
    rows = await deliveries(stack, note["id"])
    assert [(r.status, r.attempts) for r in rows] == [("sent", 2)] * 3

    received = await robots.get("/_sandbox/messages")
    assert received["duplicates"] == 2
    by_channel = {m["channel"]: m for m in received["messages"]}
    assert sorted(by_channel) == ["dingtalk", "wecom"] and len(received["messages"]) == 2
    assert (
        po_no in by_channel["wecom"]["content"] and "采购单待审批" in by_channel["wecom"]["content"]
    )
    assert by_channel["wecom"]["robot"] == "purchasing_manager"
    assert (
        by_channel["dingtalk"]["title"].endswith(po_no)
        and "¥50,000.00" in by_channel["dingtalk"]["content"]
    )
    mails = await robots.get("/_sandbox/mails")
    assert mails["duplicates"] == 1 and len(mails["mails"]) == 1
    [mail] = mails["mails"]
    assert mail["recipients"] == ["purchasing_manager@example.com"] and po_no in mail["subject"]

    # Acted upon: the first tier approves — the manager's is done, finance's turn is told to
    # finance alone (no manager's channel gets it); finance approves, all done.
    approved = await api.post(f"/v1/purchase-orders/{po_no}/approve", json={}, headers=manager)
    assert approved.status_code == 200, approved.text
    assert of(await notes(api, manager), "po_approval", po_no) == []
    [turn] = of(await notes(api, finance), "po_approval", po_no)
    assert turn["detail"] == "finance" and turn["id"] != note["id"]
    assert await deliveries(stack, turn["id"]) == []
    approved = await api.post(f"/v1/purchase-orders/{po_no}/approve", json={}, headers=finance)
    assert approved.status_code == 200, approved.text
    assert of(await notes(api, finance), "po_approval", po_no) == []
    done = of(await notes(api, finance, status="done"), "po_approval", po_no)
    assert {n["id"] for n in done} == {note["id"], turn["id"]}
    assert all(n["done_at"] is not None for n in done)


async def test_a_dingtalk_robot_refuses_a_wrong_signature_and_the_message_stays_pending(
    robots: Robots,
) -> None:
    async with httpx.AsyncClient(timeout=10) as client:
        body = {"msgtype": "text", "text": {"content": "hello"}}
        base = f"{robots.url}/robot/send?access_token=ops-group"
        wrong = await client.post(dingtalk_url(base, "SEC-wrong", 1_900_000_000_000), json=body)
        assert wrong.json()["errcode"] == 310000
        import time

        now = int(time.time() * 1000)
        right = await client.post(dingtalk_url(base, DING_SECRET, now), json=body)
        assert right.json() == {"errcode": 0, "errmsg": "ok"}
    [kept] = (await robots.get("/_sandbox/messages"))["messages"]
    assert kept["content"] == "hello" and kept["msgtype"] == "text"


@pytest.mark.parametrize(
    "stack", [{"policy": OrderPolicy(risk_review_over_fen=1)}], indirect=True, ids=["review"]
)
async def test_a_risky_order_is_told_to_its_reviewers_and_done_when_reviewed(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    order = await place_order(api, order_body(lines_of((sku, 1)), key="notify-risky"))
    number = order["order_no"]
    ops = await staff(api, "ops")
    [note] = of(await notes(api, ops), "risk_review", number)
    assert note["order_no"] == number and note["amount_fen"] == order["payable_fen"]
    assert of(await notes(api, await staff(api, "warehouse_manager")), "risk_review", number) == []
    reviewed = await api.post(
        f"/v1/orders/{number}/risk-review",
        json={"approve": True, "reason": "known customer"},
        headers=ops,
    )
    assert reviewed.status_code == 200, reviewed.text
    assert of(await notes(api, ops), "risk_review", number) == []
    async with stack.sessions() as session:
        row = await session.scalar(
            select(Notification).where(
                Notification.kind == "risk_review", Notification.ref == number
            )
        )
    assert row is not None and row.done_at is not None and row.permission == "orders.review"
