"""Each kind of notification raised by its real process and done once acted upon: the inbox's
journeys (tests/api/test_inbox.py) drive the processes, these check the notifications they left —
raised once, for the permission that decides, with the warehouse where there is one, done when
the decision went through. Conditions that hold a while (low stock) are told once while they
hold, and again after they cleared and came back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, update

from models.db import Notification, NotificationDelivery, ReorderRule, Wave
from services import notifications, replenishment, wave_progress
from tests.api import test_inbox as journeys
from tests.api import test_late_payments as late_journeys
from tests.support.order_api import skus_in, staff, warehouse_id
from tests.support.stack import Stack


async def raised(stack: Stack, kind: str) -> list[Notification]:
    async with stack.sessions() as session:
        return list(
            await session.scalars(
                select(Notification).where(Notification.kind == kind).order_by(Notification.id)
            )
        )


async def test_a_weight_hold_and_a_lost_parcel_are_told_to_their_warehouse_and_done_when_decided(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    await journeys.test_a_weight_hold_and_then_a_lost_parcel_wait_on_their_deciders(
        stack, api, carrier
    )
    [held] = await raised(stack, "weight_hold")
    [lost] = await raised(stack, "parcel_exception")
    sh = await warehouse_id(stack, "SH01")
    assert held.ref == lost.ref and held.ref.startswith("PK")
    assert (held.warehouse_id, lost.warehouse_id) == (sh, sh)
    assert held.permission == "packages.override" and "expected" in held.detail
    assert lost.permission == "packages.decide" and lost.detail == "lost"
    assert held.done_at is not None and lost.done_at is not None
    # A manager of another warehouse never saw it; this warehouse's did (now in "done").
    elsewhere = await journeys.scoped_manager(api, "gz-notes", await warehouse_id(stack, "GZ01"))
    here = await journeys.scoped_manager(api, "sh-notes", sh)
    for headers, count in ((elsewhere, 0), (here, 1)):
        page = await api.get("/v1/notifications", params={"status": "all"}, headers=headers)
        shown = [n for n in page.json()["data"] if n["ref"] == held.ref]
        assert len(shown) == count, page.text


async def test_an_after_sale_decision_is_told_and_done_when_decided(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    await journeys.test_an_after_sale_waits_on_customer_service_until_decided(stack, api, carrier)
    [note] = await raised(stack, "after_sale_decision")
    assert note.ref.startswith("AS") and note.order_no and note.amount_fen and note.amount_fen > 0
    assert note.permission == "aftersales.decide" and note.done_at is not None


async def test_a_refused_refund_is_told_and_done_when_retried(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    await journeys.test_a_refused_after_sale_refund_waits_on_customer_service_until_retried(
        stack, api, carrier, provider
    )
    [note] = await raised(stack, "refund_refused")
    assert "merchant balance low" in note.detail and note.done_at is not None
    assert [n.done_at is not None for n in await raised(stack, "after_sale_decision")] == [True]


async def test_an_invoice_mismatch_is_told_to_finance_and_done_when_decided(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    await journeys.test_an_invoice_in_mismatch_waits_on_finance_until_decided(stack, api)
    [note] = await raised(stack, "invoice_mismatch")
    assert note.ref == "INV-INBOX" and note.permission == "purchase.settle"
    assert note.amount_fen == 100 * 10  # 100 units invoiced ¥0.10 above the order's price
    assert note.done_at is not None


async def test_a_reconciliation_difference_is_told_per_run_and_done_by_a_clean_run(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    await journeys.test_a_reconciliation_difference_waits_on_finance_until_a_run_no_longer_finds_it(
        stack, api, provider
    )
    [first, *later] = await raised(stack, "reconciliation_difference")
    assert first.amount_fen == 4321 and first.step.startswith("run-")
    assert first.done_at is not None  # the second run no longer found it
    assert all(n.amount_fen != 4321 for n in later)


async def test_an_escalated_wave_is_told_to_its_warehouse_and_done_when_it_finishes(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    sh = await warehouse_id(stack, "SH01")
    now = datetime.now(UTC)
    async with stack.sessions() as session:
        session.add(
            Wave(wave_no="WV-NOTE-1", warehouse_id=sh, plan_key="note-1", carrier_code="SF",
                 cutoff_at=now + timedelta(minutes=20), profile="multi_line", zone="A",
                 release_reason="cutoff", orders=1, lines=1, units=1)
        )  # fmt: skip
        await session.flush()
        await wave_progress.escalate(session, "WV-NOTE-1", "open tasks 20 minutes before cutoff")
        await wave_progress.escalate(session, "WV-NOTE-1", "open tasks 20 minutes before cutoff")
        await session.commit()
    manager = await staff(api, "warehouse_manager")
    page = (await api.get("/v1/notifications", headers=manager)).json()
    [shown] = [n for n in page["data"] if n["ref"] == "WV-NOTE-1"]
    assert shown["kind"] == "escalated_wave" and shown["warehouse_id"] == sh
    async with stack.sessions() as session:
        await wave_progress.finish(session, "WV-NOTE-1", now)
        await session.commit()
    [note] = await raised(stack, "escalated_wave")
    assert note.done_at is not None


async def test_low_stock_is_told_once_while_it_lasts_and_again_when_it_comes_back(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    sh = await warehouse_id(stack, "SH01")
    admin = await staff(api, "admin")
    subscribed = await api.post(
        "/v1/notification-subscriptions",
        json={"role": "purchasing", "channel": "email", "target": "buyers@example.com"},
        headers=admin,
    )
    assert subscribed.status_code == 201, subscribed.text
    async with stack.sessions() as session:
        session.add(
            ReorderRule(sku_id=sku, warehouse_id=sh, reorder_point=10**6, reorder_level=10**6)
        )
        await session.commit()
        assert await replenishment.notify_low_stock(session, sh) == 1
        assert await replenishment.notify_low_stock(session, sh) == 0  # still low: told once
        await session.commit()
        rule = ReorderRule.sku_id == sku
        await session.execute(update(ReorderRule).where(rule).values(reorder_point=0))
        assert await replenishment.notify_low_stock(session, sh) == 0  # cleared: done
        await session.execute(update(ReorderRule).where(rule).values(reorder_point=10**6))
        assert await replenishment.notify_low_stock(session, sh) == 1  # back: told again
        await session.commit()
        outbox = list(await session.scalars(select(NotificationDelivery)))
    first, second = await raised(stack, "low_stock")
    assert first.ref == second.ref and first.done_at is not None and second.done_at is None
    assert first.warehouse_id == sh and first.permission == "purchase.write"
    assert {d.notification_id for d in outbox} == {first.id, second.id}  # one e-mail each


async def test_a_notice_raised_twice_is_one_notification_and_one_delivery(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    admin = await staff(api, "admin")
    for channel, target in (("wecom", "http://127.0.0.1:9/robot"), ("email", "f@example.com")):
        answer = await api.post(
            "/v1/notification-subscriptions",
            json={"role": "finance", "channel": channel, "target": target},
            headers=admin,
        )
        assert answer.status_code == 201, answer.text
    notice = notifications.Notice(kind="late_payment", ref="TX-TWICE", amount_fen=990)
    async with stack.sessions() as session:
        first = await notifications.raise_notice(session, notice)
        again = await notifications.raise_notice(session, notice)
        await session.commit()
        count = len(list(await session.scalars(select(NotificationDelivery))))
    assert first is not None and again is None and count == 2
    # Not finance's warehouse staff: a warehouse manager neither sees nor may mark it done.
    manager = await staff(api, "warehouse_manager")
    refused = await api.post(f"/v1/notifications/{first}/done", headers=manager)
    assert refused.status_code == 404
    finance = await staff(api, "finance")
    done = await api.post(f"/v1/notifications/{first}/done", headers=finance)
    assert done.status_code == 200 and done.json()["done_at"] is not None, done.text


async def test_a_payment_after_the_order_ended_is_told_to_finance_once(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    await late_journeys.test_a_payment_after_the_order_ended_is_refunded_by_a_process_of_its_own(
        stack, api, provider
    )  # the provider's callback came twice: one notification
    [note] = await raised(stack, "late_payment")
    assert note.order_no and note.order_no.startswith("SO") and note.amount_fen
    assert note.permission == "finance.reconcile" and note.done_at is None
    finance = await staff(api, "finance")
    page = (await api.get("/v1/notifications", headers=finance)).json()
    assert [n["ref"] for n in page["data"] if n["kind"] == "late_payment"] == [note.ref]
    cs = await staff(api, "cs")
    page = (await api.get("/v1/notifications", headers=cs)).json()
    assert [n for n in page["data"] if n["kind"] == "late_payment"] == []
