"""The console's pages for every built-in staff role, over the whole back office: what each
role may see renders, what it may not answers the 403 page; the cancel action goes through the
API as the person, from their address."""

from __future__ import annotations

import csv
import io

import httpx
import openpyxl
import pytest
from sqlalchemy import select

from api.deps import AppDeps
from models.db import AuditEntry
from models.domain.access import allowed
from tests.support.api import PASSWORD, add_user
from tests.support.console import (
    BROWSER_IP,
    CANCELLERS,
    STAFF_ROLES,
    browser,
    csrf_of,
    sign_in,
    signed_in,
    text_of,
)
from tests.support.order_api import (
    lines_of,
    order_body,
    pay,
    place_order,
    skus_in,
    staff,
    view,
)
from tests.support.orders import eventually, wait_cancelled
from tests.support.stack import Stack


async def test_every_page_renders_for_every_staff_role(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    order = await place_order(api, order_body(lines_of((sku, 2)), key="every-role"))
    number = order["order_no"]
    [package_no] = [p["package_no"] for p in order["packages"]]

    for role in STAFF_ROLES:
        async with browser(deps) as web:
            await signed_in(web, role)

            home = await web.get("/console/")
            assert home.status_code == 200, (role, home.text)
            assert "工作台" in home.text and 'href="/console/orders"' in home.text
            assert "今日订单 1 " in text_of(home.text)  # counts from GET /v1/dashboard
            assert "待付款 1 " in text_of(home.text)
            for panel, permission in (
                ("dashboard.after_sales", "aftersales.review"),
                ("dashboard.purchasing", "purchase.read"),
            ):
                shown = f'data-panel="{panel}"' in home.text
                assert shown == allowed(frozenset({role}), permission), (role, panel)

            listing = await web.get("/console/orders")
            assert listing.status_code == 200, role
            assert number in listing.text and "¥" in listing.text

            detail = await web.get(f"/console/orders/{number}")
            assert detail.status_code == 200, role
            page = text_of(detail.text)
            assert number in page and "商品明细" in page and "时间线" in page
            assert f"/workflows/order-{number}" in detail.text
            assert ("取消订单" in page) == (role in CANCELLERS), role

            found = await web.get("/console/search", params={"q": number.lower()})
            assert found.status_code == 303
            assert found.headers["location"] == f"/console/orders/{number}"
            parcel = await web.get("/console/search", params={"q": package_no})
            assert parcel.headers["location"] == f"/console/orders/{number}"


async def test_roles_that_may_not_cancel_get_the_403_page_and_the_order_stays(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    number = (await place_order(api, order_body(lines_of((sku, 1)), key="no-cancel")))["order_no"]

    for role in sorted(set(STAFF_ROLES) - CANCELLERS):
        async with browser(deps) as web:
            await signed_in(web, role)
            answer = await web.post(
                f"/console/orders/{number}/cancel",
                data={"csrf": csrf_of(web), "reason": "不要了", "confirm": "yes"},
            )
            assert answer.status_code == 403, role
            assert "无权访问" in answer.text and "Traceback" not in answer.text
            assert 'href="/console/orders"' in answer.text or "返回工作台" in answer.text
    assert (await view(api, number))["status"] == "awaiting_payment"


async def test_cancelling_in_the_console_is_the_person_from_their_address_and_refunds(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    number = (await place_order(api, order_body(lines_of((sku, 1)), key="cs-cancels")))["order_no"]
    async with httpx.AsyncClient(base_url=stack.payments) as provider:
        await pay(api, provider, number)
    await eventually(lambda: _paid(api, number), f"order {number} paid", seconds=60)

    async with browser(deps) as web:
        await signed_in(web, "cs")
        unconfirmed = await web.post(
            f"/console/orders/{number}/cancel",
            data={"csrf": csrf_of(web), "reason": "客户来电取消"},
        )
        assert unconfirmed.status_code == 422
        assert "请勾选确认" in unconfirmed.text
        answer = await web.post(
            f"/console/orders/{number}/cancel",
            data={"csrf": csrf_of(web), "reason": "客户来电取消", "confirm": "yes"},
        )
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == f"/console/orders/{number}?done=cancelled"
        settled = await wait_cancelled(api, number)
        assert settled["refunded_fen"] == settled["paid_fen"] > 0
        page = text_of((await web.get(answer.headers["location"])).text)
        assert "订单已取消" in page and "已取消" in page
        assert f"已退款 {_yuan(settled['refunded_fen'])}" in page

        again = await web.post(
            f"/console/orders/{number}/cancel",
            data={"csrf": csrf_of(web), "reason": "再取消一次", "confirm": "yes"},
        )

    async with stack.sessions() as session:
        rows = list(
            await session.scalars(
                select(AuditEntry).where(AuditEntry.object_id == number).order_by(AuditEntry.id)
            )
        )
        console_rows = await session.scalars(
            select(AuditEntry).where(AuditEntry.path.startswith("/console"))
        )
        assert list(console_rows) == []  # the form post is not an API call; its /v1 call is
    [cancel] = [r for r in rows if r.action == "order.cancel"]
    assert (cancel.actor_type, cancel.actor_name, cancel.client_ip) == ("user", "cs", BROWSER_IP)
    assert cancel.detail["reason"] == "客户来电取消"
    # The order can no longer be cancelled (the form is gone); a post anyway shows the refusal.
    assert again.status_code == 409
    assert "操作被拒绝" in again.text


async def test_a_script_in_a_product_name_is_shown_as_text(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    name = "<script>alert('x')</script>坚果"
    renamed = await api.patch(
        f"/v1/skus/{sku}", json={"name": name}, headers=await staff(api, "ops")
    )
    assert renamed.status_code == 200, renamed.text
    number = (await place_order(api, order_body(lines_of((sku, 1)), key="xss")))["order_no"]

    async with browser(deps) as web:
        await signed_in(web, "ops")
        page = await web.get(f"/console/orders/{number}")

    assert page.status_code == 200
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;坚果" in page.text
    assert "<script>alert" not in page.text


async def test_the_list_filters_sorts_pages_and_exports_exactly_the_filtered_rows(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    sku_a, sku_b = await skus_in(stack, "SH01", 2)
    mine = [
        (await place_order(api, order_body(lines_of((sku_a, q)), key=f"c88-{q}", customer_id=88)))
        for q in (1, 3, 2)
    ]
    other = await place_order(api, order_body(lines_of((sku_b, 1)), key="c89", customer_id=89))
    numbers = {o["order_no"] for o in mine}

    async with browser(deps) as web:
        await signed_in(web, "cs")
        listing = await web.get("/console/orders", params={"customer_id": "88"})
        assert listing.status_code == 200
        assert "共 3 单" in text_of(listing.text)
        assert numbers <= set(_rows(listing.text)) and other["order_no"] not in listing.text

        by_amount = await web.get(
            "/console/orders", params={"customer_id": "88", "sort": "-payable_fen"}
        )
        payables = [o["payable_fen"] for o in sorted(mine, key=lambda o: -o["payable_fen"])]
        expected = [o["order_no"] for o in sorted(mine, key=lambda o: -o["payable_fen"])]
        assert _rows(by_amount.text) == expected and payables[0] > payables[-1]

        fragment = await web.get(
            "/console/orders",
            params={"customer_id": "89"},
            headers={"HX-Request": "true"},
        )
        assert "<html" not in fragment.text and _rows(fragment.text) == [other["order_no"]]

        nothing = await web.get(
            "/console/orders", params={"customer_id": "88", "placed_until": "2020-01-01"}
        )
        assert _rows(nothing.text) == [] and "没有符合条件的订单" in nothing.text
        invalid = await web.get("/console/orders", params={"customer_id": "abc"})
        assert "筛选条件无效：customer_id" in invalid.text

        exported = await web.get(
            "/console/orders/export.csv", params={"customer_id": "88", "sort": "payable_fen"}
        )
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        table = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert table[0][0] == "订单号"
        ascending = sorted(mine, key=lambda o: o["payable_fen"])
        assert [r[0] for r in table[1:]] == [o["order_no"] for o in ascending]
        assert table[1][3] == _plain_yuan(ascending[0]["payable_fen"])

        workbook = await web.get("/console/orders/export.xlsx", params={"customer_id": "88"})
        assert workbook.status_code == 200
        sheet = openpyxl.load_workbook(io.BytesIO(workbook.content)).active
        assert sheet is not None
        cells = [[c.value for c in row] for row in sheet.iter_rows()]
        assert cells[0][0] == "订单号" and {r[0] for r in cells[1:]} == numbers
        assert len(cells) == 4


async def test_unknown_orders_and_numbers_are_friendly_pages(
    deps: AppDeps, web: httpx.AsyncClient
) -> None:
    await signed_in(web, "warehouse_manager")
    missing = await web.get("/console/orders/SO20990101000001")
    assert missing.status_code == 404 and "未找到" in missing.text
    search = await web.get("/console/search", params={"q": "SO20990101000001"})
    assert search.status_code == 404 and "没有找到单号" in search.text
    parcel = await web.get("/console/search", params={"q": "PK20990101000001"})
    assert parcel.status_code == 404 and "没有找到单号" in parcel.text
    no_page = await web.get("/console/no-such-page")
    assert no_page.status_code == 404 and "未找到" in no_page.text
    assert no_page.headers["content-type"].startswith("text/html")
    unknown = await web.get("/console/search", params={"q": "hello"})
    assert unknown.status_code == 404 and "无法识别的单号" in unknown.text


async def _paid(api: httpx.AsyncClient, number: str) -> bool | None:
    return True if (await view(api, number))["paid_fen"] > 0 else None


def _rows(html: str) -> list[str]:
    import re

    return re.findall(r'<tr data-order="([^"]+)">', html)


def _yuan(fen: int) -> str:
    return f"¥{fen // 100:,}.{fen % 100:02d}"


def _plain_yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


async def test_menus_and_pages_follow_the_permissions_a_person_has(
    stack: Stack, deps: AppDeps
) -> None:
    """A person whose roles grant no order permission (a role an admin may compose) sees no
    orders menu, and the orders pages answer the 403 page — never an empty table."""
    await add_user(stack.sessions, "scanner", "device")
    async with browser(deps) as web:
        signed = await sign_in(web, "scanner", password=PASSWORD)
        assert signed.status_code == 303, signed.text

        home = await web.get("/console/")
        assert home.status_code == 200
        assert 'href="/console/orders"' not in home.text and "今日订单" not in home.text
        for path in ("/console/orders", "/console/orders/SO1", "/console/orders/export.csv"):
            answer = await web.get(path)
            assert answer.status_code == 403, path
            assert "无权访问" in answer.text and "<table" not in answer.text


async def test_a_refusal_of_a_page_s_api_call_is_a_page_with_the_api_s_words(
    deps: AppDeps, web: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A sort the console would let through and the API does not know.
    monkeypatch.setattr("console.orders.SORTS", ("-placed_at", "customer_id"))
    await signed_in(web, "ops")
    answer = await web.get("/console/orders", params={"sort": "customer_id"})
    assert answer.status_code == 422
    assert "操作未能完成" in answer.text and "sort" in answer.text
    assert answer.headers["content-type"].startswith("text/html")
