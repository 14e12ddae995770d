"""Order actions and list mechanics in the console: risk review, a forged cancel, pages, and
exports that cross the API's page boundaries."""

from __future__ import annotations

import csv
import io
import re

import httpx
import pytest
from sqlalchemy import select

from api.deps import AppDeps
from models.contracts.order import OrderPolicy
from models.db import AuditEntry
from tests.support.console import BROWSER_IP, browser, csrf_of, signed_in, text_of
from tests.support.order_api import (
    DEVICE,
    Json,
    http,
    lines_of,
    only_in,
    order_body,
    paid_order,
    place_order,
    skus_in,
    track,
    view,
    wait_package,
)
from tests.support.orders import eventually, pack_and_hand_over
from tests.support.stack import Stack

review_every_order = pytest.mark.parametrize(
    "stack", [{"policy": OrderPolicy(risk_review_over_fen=1)}], indirect=True, ids=["review"]
)


@review_every_order
async def test_ops_approve_a_risk_review_in_the_console_and_cs_cannot(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    order = await place_order(api, order_body(lines_of((sku, 1)), key="risky"))
    number = order["order_no"]
    assert order["under_review"] is True

    async with browser(deps) as web:
        await signed_in(web, "cs")
        assert 'id="review"' not in (await web.get(f"/console/orders/{number}")).text
        forbidden = await web.post(
            f"/console/orders/{number}/risk-review",
            data={"csrf": csrf_of(web), "decision": "approve", "reason": "x"},
        )
        assert forbidden.status_code == 403 and "无权访问" in forbidden.text

    async with browser(deps) as web:
        await signed_in(web, "ops")
        page = await web.get(f"/console/orders/{number}")
        assert 'id="review"' in page.text and "提交审核" in text_of(page.text)
        undecided = await web.post(
            f"/console/orders/{number}/risk-review", data={"csrf": csrf_of(web), "reason": "?"}
        )
        assert undecided.status_code == 422 and "请选择通过或拒绝" in undecided.text
        answer = await web.post(
            f"/console/orders/{number}/risk-review",
            data={"csrf": csrf_of(web), "decision": "approve", "reason": "老客户"},
        )
        assert answer.status_code == 303, answer.text
        after = await web.get(answer.headers["location"])
        assert "风控审核已提交" in after.text
        assert 'action="/console/orders/' + number + '/risk-review"' not in after.text

    decided = await view(api, number)
    assert decided["under_review"] is False
    event = next(e for e in decided["timeline"] if e["step"] == "risk_approved")
    assert (event["actor_name"], event["detail"]["reason"]) == ("ops", "老客户")
    async with stack.sessions() as session:
        row = await session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "order.risk_review", AuditEntry.object_id == number
            )
        )
    assert row is not None and (row.actor_name, row.client_ip) == ("ops", BROWSER_IP)


async def test_a_forged_cancel_is_refused_and_the_order_stays(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    number = (await place_order(api, order_body(lines_of((sku, 1)), key="forged")))["order_no"]

    async with browser(deps) as web:
        await signed_in(web, "cs")
        form = {"reason": "伪造的请求", "confirm": "yes"}
        missing = await web.post(f"/console/orders/{number}/cancel", data=form)
        wrong = await web.post(
            f"/console/orders/{number}/cancel", data={**form, "csrf": "forged" * 8}
        )
        other_site = await web.post(
            f"/console/orders/{number}/cancel",
            data={**form, "csrf": csrf_of(web)},
            headers={"Origin": "https://evil.example"},
        )

    for answer in (missing, wrong, other_site):
        assert answer.status_code == 403
        assert "请求已失效" in answer.text
    assert (await view(api, number))["status"] == "awaiting_payment"
    async with stack.sessions() as session:
        cancels = await session.scalars(
            select(AuditEntry).where(AuditEntry.path == f"/v1/orders/{number}/cancel")
        )
        assert list(cancels) == []  # never reached the API


async def test_pages_and_exports_cross_page_boundaries(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("console.orders.PAGE_SIZE", 2)
    monkeypatch.setattr("console.export.EXPORT_PAGE", 2)  # 5 rows: three API pages
    [sku] = await skus_in(stack, "SH01")
    placed = [
        (await place_order(api, order_body(lines_of((sku, 1)), key=f"p{n}", customer_id=777)))[
            "order_no"
        ]
        for n in range(5)
    ]
    newest_first = sorted(placed, reverse=True)

    async with browser(deps) as web:
        await signed_in(web, "ops")
        seen: list[str] = []
        for number in (1, 2, 3):
            page = await web.get("/console/orders", params={"customer_id": "777", "page": number})
            assert f"第 {number} / 3 页" in text_of(page.text)
            seen += re.findall(r'<tr data-order="([^"]+)">', page.text)
            assert ('rel="next"' in page.text) == (number < 3)
            assert ('rel="prev"' in page.text) == (number > 1)
        exported = await web.get("/console/orders/export.csv", params={"customer_id": "777"})

    assert sorted(seen, reverse=True) == newest_first and len(set(seen)) == 5
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [r[0] for r in rows[1:]] == seen


async def test_cs_refunds_a_lost_package_from_the_order_page(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    sku = await only_in(stack, "SH01")
    order = await paid_order(stack, api, [(sku, 1)], key="lost-parcel")
    number = order["order_no"]
    [parcel] = order["packages"]
    tracking = await pack_and_hand_over(api, parcel)
    async with http(stack.carrier) as carrier:
        await track(carrier, tracking, "lost")
    await wait_package(api, parcel["package_no"], "exception", DEVICE["SH01"])
    decide = f"/console/orders/{number}/packages/{parcel['package_no']}/decision"

    async with browser(deps) as web:
        await signed_in(web, "warehouse_manager")
        page = await web.get(f"/console/orders/{number}")
        assert f'id="decide-{parcel["package_no"]}"' not in page.text
        refused = await web.post(
            decide, data={"csrf": csrf_of(web), "decision": "refund", "reason": "丢件"}
        )
        assert refused.status_code == 403

    async with browser(deps) as web:
        await signed_in(web, "cs")

        async def offered() -> bool | None:
            page = await web.get(f"/console/orders/{number}")
            return True if f'id="decide-{parcel["package_no"]}"' in page.text else None

        await eventually(offered, "the exception shown on the order page")
        answer = await web.post(
            decide, data={"csrf": csrf_of(web), "decision": "refund", "reason": "承运商确认丢件"}
        )
        assert answer.status_code == 303, answer.text
        assert "包裹异常处理已提交" in (await web.get(answer.headers["location"])).text

        async def refunded() -> Json | None:
            # The lost package is refunded, then (nothing was delivered) the order cancels and
            # refunds its freight too: wait for the last of them.
            found = await view(api, number)
            done = found["status"] == "cancelled" and found["refunded_fen"] == found["paid_fen"]
            return found if done else None

        final = await eventually(refunded, "the lost package and the freight refunded")
        page = text_of((await web.get(f"/console/orders/{number}")).text)
        shown = final["refunded_fen"]
        assert f"已退款 ¥{shown // 100:,}.{shown % 100:02d}" in page
    async with stack.sessions() as session:
        row = await session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "package.exception_decision",
                AuditEntry.object_id == parcel["package_no"],
            )
        )
    assert row is not None and (row.actor_name, row.client_ip) == ("cs", BROWSER_IP)
