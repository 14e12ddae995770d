"""GET /v1/inbox over the whole back office: each kind of item appears for the roles that may act
on it and for no other, and disappears once acted on — acting at once on what the list shows,
through the action it names."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from models.contracts.order import OrderPolicy
from models.db import MoneyEntry, OrderRefund, ReconciliationDifference, Wave
from models.domain.access import STAFF_ROLES, allowed
from models.domain.reconciliation import business_day
from tests.api.test_po_settlement import closed_po
from tests.support.after_sale_api import delivered, open_after_sale, shown_as
from tests.support.order_api import (
    DEVICE,
    Json,
    lines_of,
    only_in,
    order_body,
    paid_order,
    place_order,
    signed_in,
    skus_in,
    staff,
    track,
    wait_package,
    warehouse_id,
)
from tests.support.orders import device_for, eventually
from tests.support.picking import pick_package
from tests.support.purchasing import supplier_with_products
from tests.support.stack import Stack
from workers.seed import DEMO_PASSWORD

ROLES = sorted(STAFF_ROLES)


async def signed(api: httpx.AsyncClient, role: str) -> dict[str, str]:
    """One sign-in per role per test (per client): admin's and finance's second factor takes a
    fresh 30-second code for each sign-in."""
    return await signed_in(api, role)


async def inbox(api: httpx.AsyncClient, headers: dict[str, str], **params: Any) -> Json:
    answer = await api.get("/v1/inbox", params={"limit": 500, **params}, headers=headers)
    assert answer.status_code == 200, answer.text
    page: Json = answer.json()
    return page


def item(page: Json, kind: str, ref: str) -> Json | None:
    return next((x for x in page["data"] if (x["kind"], x["ref"]) == (kind, ref)), None)


async def holders(api: httpx.AsyncClient, kind: str, ref: str) -> set[str]:
    """The staff roles whose inbox shows the item."""
    shown = set()
    for role in ROLES:
        if item(await inbox(api, await signed(api, role)), kind, ref) is not None:
            shown.add(role)
    return shown


def may(permission: str) -> set[str]:
    return {role for role in ROLES if allowed(frozenset({role}), permission)}


async def scoped_manager(api: httpx.AsyncClient, username: str, warehouse: int) -> dict[str, str]:
    """A warehouse manager who sees and acts on one warehouse only."""
    created = await api.post(
        "/v1/admin/users",
        json={
            "username": username,
            "display_name": username,
            "password": DEMO_PASSWORD,
            "roles": ["warehouse_manager"],
            "warehouse_ids": [warehouse],
        },
        headers=await signed(api, "admin"),
    )
    assert created.status_code == 201, created.text
    answer = await api.post(
        "/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def act(api: httpx.AsyncClient, headers: dict[str, str], found: Json, body: Json) -> Json:
    answer = await api.post(found["action"], json=body, headers=headers)
    assert answer.status_code == 200, answer.text
    done: Json = answer.json()
    return done


async def test_a_two_tier_po_waits_on_each_approver_until_they_approved(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    supplier, [sku, _] = await supplier_with_products(stack)
    sh = await warehouse_id(stack, "SH01")
    buyer = await staff(api, "purchasing")
    body = {
        "supplier_id": supplier,
        "lines": [{"sku_id": sku, "warehouse_id": sh, "quantity": 2000, "unit_price_fen": 2500}],
    }
    created = await api.post("/v1/purchase-orders", json=body, headers=buyer)
    assert created.status_code == 201, created.text
    number = created.json()["po_no"]
    submitted = await api.post(f"/v1/purchase-orders/{number}/submit", headers=buyer)
    assert sorted(submitted.json()["required_roles"]) == ["finance", "purchasing_manager"]

    assert await holders(api, "po_approval", number) == {"finance", "purchasing_manager"}
    manager, finance = await staff(api, "purchasing_manager"), await staff(api, "finance")
    mine = item(await inbox(api, manager), "po_approval", number)
    assert mine is not None
    assert mine["roles"] == ["purchasing_manager"] and mine["amount_fen"] == 5_000_000
    assert mine["due_at"] is not None and mine["since"] < mine["due_at"]
    assert (await inbox(api, await staff(api, "cs")))["counts"].get("po_approval") is None

    await act(api, manager, mine, {})
    assert item(await inbox(api, manager), "po_approval", number) is None
    theirs = item(await inbox(api, finance), "po_approval", number)
    assert theirs is not None and theirs["roles"] == ["finance"]
    approved = await act(api, finance, theirs, {})
    assert approved["status"] in ("approved", "sent")
    assert await holders(api, "po_approval", number) == set()


@pytest.mark.parametrize(
    "stack", [{"policy": OrderPolicy(risk_review_over_fen=1)}], indirect=True, ids=["review"]
)
async def test_a_risky_order_waits_on_its_reviewers_until_reviewed(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    order = await place_order(api, order_body(lines_of((sku, 1)), key="inbox-risky"))
    number = order["order_no"]
    assert order["under_review"] is True

    assert await holders(api, "risk_review", number) == may("orders.review")
    ops = await staff(api, "ops")
    found = item(await inbox(api, ops, kind="risk_review"), "risk_review", number)
    assert found is not None and found["order_no"] == number
    assert found["amount_fen"] == order["payable_fen"]
    due = datetime.fromisoformat(found["due_at"]) - datetime.fromisoformat(found["since"])
    assert due == timedelta(hours=2)  # the configured review SLA
    await act(api, ops, found, {"approve": True, "reason": "known customer"})
    assert item(await inbox(api, ops), "risk_review", number) is None


async def test_an_after_sale_waits_on_customer_service_until_decided(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    sku = await only_in(stack, "SH01")
    order = await delivered(stack, api, carrier, [(sku, 2)], key="inbox-as")
    as_no = await open_after_sale(api, order["order_no"], "inbox-as", "refund_only", [(1, 1)])

    assert await holders(api, "after_sale_decision", as_no) == may("aftersales.decide")
    cs = await staff(api, "cs")
    found = item(await inbox(api, cs), "after_sale_decision", as_no)
    assert found is not None and found["order_no"] == order["order_no"]
    assert found["amount_fen"] > 0 and found["due_at"] is not None
    await act(api, cs, found, {"approve": True, "reason": ""})
    assert item(await inbox(api, cs), "after_sale_decision", as_no) is None


async def test_a_weight_hold_and_then_a_lost_parcel_wait_on_their_deciders(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    sku = await only_in(stack, "SH01")
    order = await paid_order(stack, api, [(sku, 1)], key="inbox-parcel")
    [parcel] = order["packages"]
    number = parcel["package_no"]
    device = await device_for(api, parcel["warehouse_id"])
    shown = await pick_package(api, parcel)
    packed = await api.post(
        f"/v1/packages/{number}/pack",
        headers=device,
        json={"measured_weight_g": shown["expected_weight_g"] * 3 + 500},
    )
    assert packed.status_code == 200, packed.text
    assert packed.json()["status"] == "weight_hold"

    assert await holders(api, "weight_hold", number) == may("packages.override")
    elsewhere = await scoped_manager(api, "gz01-manager", await warehouse_id(stack, "GZ01"))
    assert item(await inbox(api, elsewhere), "weight_hold", number) is None  # not their floor
    here = await scoped_manager(api, "sh01-manager", parcel["warehouse_id"])
    assert item(await inbox(api, here), "weight_hold", number) is not None
    manager = await staff(api, "warehouse_manager")
    held = item(await inbox(api, manager), "weight_hold", number)
    assert held is not None and "expected" in held["detail"]
    assert held["warehouse_id"] == parcel["warehouse_id"]
    await act(api, manager, held, {"reason": "box weighed with packing material"})
    assert item(await inbox(api, manager), "weight_hold", number) is None

    async def waybill() -> Json | None:
        view: Json = (await api.get(f"/v1/packages/{number}", headers=device)).json()
        return view if view["status"] == "waybill_created" else None

    tracking = (await eventually(waybill, f"waybill for {number}"))["tracking_no"]
    handed = await api.post(f"/v1/packages/{number}/handover", headers=device)
    assert handed.status_code == 200, handed.text
    await track(carrier, tracking, "lost")
    await wait_package(api, number, "exception", DEVICE["SH01"])

    assert await holders(api, "parcel_exception", number) == may("packages.decide")
    cs = await staff(api, "cs")
    lost = item(await inbox(api, cs), "parcel_exception", number)
    assert lost is not None and lost["order_no"] == order["order_no"]
    await act(api, cs, lost, {"decision": "refund", "reason": "carrier confirmed the loss"})
    assert item(await inbox(api, cs), "parcel_exception", number) is None


async def test_an_invoice_in_mismatch_waits_on_finance_until_decided(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    number, (sku_a, sku_b), _, _ = await closed_po(stack, api)
    finance = await staff(api, "finance")
    invoice = {
        "invoice_no": "INV-INBOX",
        "invoice_date": date.today().isoformat(),
        "lines": [
            {"line_no": 1, "sku_id": sku_a, "quantity": 100, "unit_price_fen": 260},
            {"line_no": 2, "sku_id": sku_b, "quantity": 40, "unit_price_fen": 250},
        ],
    }
    booked = await api.post(f"/v1/purchase-orders/{number}/invoices", json=invoice, headers=finance)
    assert booked.status_code == 201 and booked.json()["status"] == "mismatch", booked.text

    assert await holders(api, "invoice_mismatch", "INV-INBOX") == may("purchase.settle")
    found = item(await inbox(api, finance), "invoice_mismatch", "INV-INBOX")
    assert found is not None and found["po_no"] == number
    await act(api, finance, found, {"approve": True, "reason": "price rise agreed"})
    assert item(await inbox(api, finance), "invoice_mismatch", "INV-INBOX") is None


async def test_refused_refunds_differences_and_escalated_waves_reach_only_their_roles(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    """Kinds whose cause is the outside world (a provider refusing, a statement differing, a
    wave running late) as their projections show them; the list reads nothing else."""
    [sku] = await skus_in(stack, "SH01")
    order = await place_order(api, order_body(lines_of((sku, 1)), key="inbox-projections"))
    number = order["order_no"]
    sh = await warehouse_id(stack, "SH01")
    now = datetime.now(UTC)
    async with stack.sessions() as session:
        session.add(
            OrderRefund(
                refund_no=f"RF-INBOX-{number}",
                order_no=number,
                amount_fen=1234,
                status="refused",
                reason="late payment",
                refused_reason="account closed",
            )
        )
        difference = ReconciliationDifference(
            day=date.today() - timedelta(days=1),
            kind="missing_in_ledger",
            entry_type="payment",
            reference=f"TX-{number}",
            order_no=number,
            provider_amount_fen=500,
            ledger_amount_fen=None,
            occurred_at=now,
            detail="paid at the provider, not in the ledger",
        )
        session.add(difference)
        session.add(
            Wave(
                wave_no=f"WV-INBOX-{number[-6:]}",
                warehouse_id=sh,
                plan_key=f"inbox-{number}",
                carrier_code="SF",
                cutoff_at=now + timedelta(minutes=20),
                profile="multi_line",
                zone="A",
                release_reason="cutoff",
                orders=1,
                lines=1,
                units=1,
                escalated=True,
                escalation_reason="open tasks 20 minutes before the cutoff",
            )
        )
        await session.commit()
        difference_id = str(difference.id)

    assert await holders(api, "refund_retry", number) == may("finance.reconcile")
    assert await holders(api, "reconciliation_difference", difference_id) == may(
        "finance.reconcile"
    )
    wave_no = f"WV-INBOX-{number[-6:]}"
    assert await holders(api, "escalated_wave", wave_no) == may("waves.plan")

    finance = await staff(api, "finance")
    page = await inbox(api, finance)
    refused = item(page, "refund_retry", number)
    assert refused is not None and refused["amount_fen"] == 1234
    assert refused["detail"] == "account closed"
    assert refused["action"] == f"/v1/orders/{number}/retry-refund"
    found = item(page, "reconciliation_difference", difference_id)
    assert found is not None and found["day"] == (date.today() - timedelta(days=1)).isoformat()
    times = [x["since"] for x in page["data"]]
    assert times == sorted(times)  # oldest first
    only = await inbox(api, finance, kind="reconciliation_difference")
    assert {x["kind"] for x in only["data"]} == {"reconciliation_difference"}
    assert only["count"] == page["counts"]["reconciliation_difference"]
    bad = await api.get("/v1/inbox", params={"kind": "everything"}, headers=finance)
    assert bad.status_code == 422
    pages = [await inbox(api, finance, skip=n, limit=1) for n in range(len(page["data"]))]
    assert [p["data"] for p in pages] == [[x] for x in page["data"]]
    assert {p["count"] for p in pages} == {page["count"]} and page["count"] >= 2

    async with stack.sessions() as session:  # the wave finished: nothing left to chase
        await session.execute(update(Wave).where(Wave.wave_no == wave_no).values(status="done"))
        await session.commit()
        assert await session.scalar(select(Wave.status).where(Wave.wave_no == wave_no)) == "done"
    assert await holders(api, "escalated_wave", wave_no) == set()


async def test_a_refused_after_sale_refund_waits_on_customer_service_until_retried(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    sku = await only_in(stack, "SH01")
    order = await delivered(stack, api, carrier, [(sku, 2)], key="inbox-refused")
    as_no = await open_after_sale(api, order["order_no"], "inbox-refused", "refund_only", [(1, 1)])
    refusing = await provider.put(
        "/_sandbox/refund-refusals", json={"count": 1, "reason": "merchant balance low"}
    )
    assert refusing.status_code == 200, refusing.text
    cs = await staff(api, "cs")
    decided = await api.post(
        f"/v1/after-sales/{as_no}/decision", json={"approve": True}, headers=cs
    )
    assert decided.status_code == 200, decided.text

    async def waiting() -> Json | None:
        return item(await inbox(api, cs, kind="refund_retry"), "refund_retry", as_no)

    found = await eventually(waiting, f"{as_no}'s refused refund in the inbox")
    assert found["action"] == f"/v1/after-sales/{as_no}/retry-refund"
    assert found["amount_fen"] > 0 and found["order_no"] == order["order_no"]
    assert await holders(api, "refund_retry", as_no) == may("aftersales.decide")
    await act(api, cs, found, {"reason": "balance topped up"})
    assert item(await inbox(api, cs), "refund_retry", as_no) is None
    assert (await shown_as(api, as_no, "refunded"))["refund_fen"] == found["amount_fen"]


async def test_a_reconciliation_difference_waits_on_finance_until_a_run_no_longer_finds_it(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    day = business_day(datetime.now(UTC))  # the ledger entry made good below is of today
    planted = await provider.post(
        "/_sandbox/statement-mismatch",
        json={
            "kind": "phantom",
            "amount_fen": 4321,
            "date": day.isoformat(),
            "merchant_order_no": "PHANTOM-INBOX",
        },
    )
    assert planted.status_code == 201, planted.text
    finance = await staff(api, "finance")
    ran = await api.post(
        "/v1/finance/reconciliation/run", json={"day": day.isoformat()}, headers=finance
    )
    assert ran.status_code == 200, ran.text
    found = next(
        x
        for x in (await inbox(api, finance, kind="reconciliation_difference"))["data"]
        if x["order_no"] == "PHANTOM-INBOX"
    )
    assert (found["day"], found["amount_fen"]) == (day.isoformat(), 4321)
    assert await holders(api, "reconciliation_difference", found["ref"]) == may("finance.reconcile")

    async with stack.sessions() as session:  # the payment made good in the ledger
        session.add(
            MoneyEntry(
                order_no="PHANTOM-INBOX",
                entry_type="payment",
                amount_fen=4321,
                ref_no=planted.json()["entry_id"],
            )
        )
        await session.commit()
    rerun = await act(api, finance, found, {"day": found["day"]})
    assert rerun["run"]["resolved"] == 1
    assert item(await inbox(api, finance), "reconciliation_difference", found["ref"]) is None
