"""The inbox (待办) in the console: every staff role's page, a row answered in place (confirmed,
CSRF-checked, the API's refusal at the row, forbidden is the 403 page), and a selection of rows
answered by one action — each row its own call, one refusal undoing none of the others."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update

from api.deps import AppDeps
from models.db import AfterSale
from models.domain.access import allowed
from tests.support.after_sale_api import delivered, open_after_sale, shown_as
from tests.support.console import STAFF_ROLES, browser, csrf_of, signed_in, text_of
from tests.support.order_api import Json, http, only_in, staff, warehouse_id
from tests.support.purchasing import supplier_with_products
from tests.support.stack import Stack


async def submitted_po(
    stack: Stack, api: httpx.AsyncClient, quantity: int = 10, price_fen: int = 250
) -> str:
    """A PO waiting for approval (one tier below ¥50,000; two from it)."""
    supplier, [sku, _] = await supplier_with_products(stack)
    sh = await warehouse_id(stack, "SH01")
    buyer = await staff(api, "purchasing")
    body = {
        "supplier_id": supplier,
        "lines": [
            {"sku_id": sku, "warehouse_id": sh, "quantity": quantity, "unit_price_fen": price_fen}
        ],
    }
    created = await api.post("/v1/purchase-orders", json=body, headers=buyer)
    assert created.status_code == 201, created.text
    number = str(created.json()["po_no"])
    submitted = await api.post(f"/v1/purchase-orders/{number}/submit", headers=buyer)
    assert submitted.status_code == 200 and submitted.json()["status"] == "pending_approval"
    return number


async def po_status(api: httpx.AsyncClient, number: str) -> str:
    shown: Json = (
        await api.get(f"/v1/purchase-orders/{number}", headers=await staff(api, "purchasing"))
    ).json()
    return str(shown["status"])


def rows_of(html: str) -> list[str]:
    return re.findall(r'<tr data-item="([^"]+)">', html)


async def test_every_staff_role_sees_its_own_inbox(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    number = await submitted_po(stack, api)
    for role in STAFF_ROLES:
        async with browser(deps) as web:
            await signed_in(web, role)
            page = await web.get("/console/inbox")
            assert page.status_code == 200, (role, page.text)
            assert "我的待办" in page.text and 'href="/console/inbox"' in page.text
            mine = f"po_approval:{number}" in rows_of(page.text)
            assert mine == (role == "purchasing_manager"), role
            assert ('data-kind="po_approval"' in page.text) == allowed(
                frozenset({role}), "purchase.approve"
            ), role
            if mine:
                row = text_of(page.text)
                assert "采购单审批" in row and "剩余 23 小时" in row and "¥25.00" in row
                assert 'name="item"' in page.text  # PO approvals take a selection
            english = await web.get("/console/lang/en", params={"next": "/console/inbox"})
            assert english.status_code in (302, 303, 307)
            assert "My inbox" in (await web.get("/console/inbox")).text


async def test_a_row_is_answered_in_place_confirmed_and_csrf_checked(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    number = await submitted_po(stack, api)
    form = {"kind": "po_approval", "ref": number, "choice": "reject"}

    async with browser(deps) as web:
        await signed_in(web, "cs")
        await web.get("/console/inbox")
        forbidden = await web.post(
            "/console/inbox/act",
            data={**form, "reason": "太贵", "confirm": "yes", "csrf": csrf_of(web)},
        )
        assert forbidden.status_code == 403 and "无权访问" in forbidden.text

    async with browser(deps) as web:
        await signed_in(web, "purchasing_manager")
        await web.get("/console/inbox")
        forged = await web.post(
            "/console/inbox/act",
            data={**form, "reason": "太贵", "confirm": "yes", "csrf": "x" * 43},
        )
        assert forged.status_code == 403 and "请求已失效" in forged.text
        unconfirmed = await web.post(
            "/console/inbox/act", data={**form, "reason": "太贵", "csrf": csrf_of(web)}
        )
        assert unconfirmed.status_code == 422 and "请勾选确认后再提交" in unconfirmed.text
        no_reason = await web.post(
            "/console/inbox/act", data={**form, "confirm": "yes", "csrf": csrf_of(web)}
        )
        assert no_reason.status_code == 422, no_reason.text
        assert "被拒绝：原因：至少 2 个字符" in text_of(
            no_reason.text
        )  # the API's words in Chinese
        assert f"po_approval:{number}" in rows_of(no_reason.text)  # still waiting, still there
        assert await po_status(api, number) == "pending_approval"
        answer = await web.post(
            "/console/inbox/act",
            data={**form, "reason": "价格高于上次", "confirm": "yes", "csrf": csrf_of(web)},
        )
        assert answer.status_code == 303, answer.text
        after = await web.get(answer.headers["location"])
        assert f"{number} 已处理" in after.text
        assert f"po_approval:{number}" not in rows_of(after.text)
    assert await po_status(api, number) == "rejected"


async def test_a_selection_is_answered_row_by_row_one_refusal_undoing_nothing(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    first, second, third = [await submitted_po(stack, api) for _ in range(3)]
    manager = await staff(api, "purchasing_manager")

    async with browser(deps) as web:
        await signed_in(web, "purchasing_manager")
        page = await web.get("/console/inbox", params={"kind": "po_approval"})
        shown = rows_of(page.text)
        assert {f"po_approval:{n}" for n in (first, second, third)} <= set(shown)
        # Someone else rejects the second meanwhile: the page the manager looks at is stale.
        gone = await api.post(
            f"/v1/purchase-orders/{second}/reject", json={"reason": "供应商停产"}, headers=manager
        )
        assert gone.status_code == 200, gone.text
        chosen = [f"po_approval:{n}" for n in (first, second, third)]
        unconfirmed = await web.post(
            "/console/inbox/bulk",
            data={"item": chosen, "choice": "approve", "csrf": csrf_of(web)},
        )
        assert unconfirmed.status_code == 422 and "请勾选确认后再提交" in unconfirmed.text
        wrong = await web.post(
            "/console/inbox/bulk",
            data={"item": chosen, "choice": "override", "confirm": "yes", "csrf": csrf_of(web)},
        )
        assert wrong.status_code == 422 and "请勾选可批量处理的行" in wrong.text
        answer = await web.post(
            "/console/inbox/bulk?kind=po_approval",
            data={"item": chosen, "choice": "approve", "confirm": "yes", "csrf": csrf_of(web)},
        )
        assert answer.status_code == 200, answer.text
        outcomes = dict(re.findall(r'<li data-outcome="([^"]+)" class="(ok|refusal)"', answer.text))
        assert outcomes == {first: "ok", second: "refusal", third: "ok"}
        assert "被拒绝" in text_of(answer.text)
        left = rows_of(answer.text)
        assert not {f"po_approval:{n}" for n in (first, second, third)} & set(left)

    assert await po_status(api, first) in ("approved", "sent")
    assert await po_status(api, second) == "rejected"
    assert await po_status(api, third) in ("approved", "sent")


async def test_after_sales_decided_in_bulk_each_refused_or_done_on_its_own(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    sku = await only_in(stack, "SH01")
    async with http(stack.carrier) as carrier:
        order = await delivered(stack, api, carrier, [(sku, 3)], key="inbox-bulk-as")
    number = order["order_no"]
    first = await open_after_sale(api, number, "bulk-1", "refund_only", [(1, 1)])
    second = await open_after_sale(api, number, "bulk-2", "refund_only", [(1, 1)])
    chosen = [f"after_sale_decision:{first}", f"after_sale_decision:{second}"]
    async with stack.sessions() as session:  # the first one's SLA ran out 61 minutes ago
        late = datetime.now(UTC) - timedelta(minutes=61, seconds=30)
        await session.execute(
            update(AfterSale).where(AfterSale.as_no == first).values(sla_due_at=late)
        )
        await session.commit()

    async with browser(deps) as web:
        await signed_in(web, "cs")
        page = await web.get("/console/inbox", params={"kind": "after_sale_decision"})
        assert set(chosen) <= set(rows_of(page.text))
        row = page.text.split(f'data-item="after_sale_decision:{first}"')[1].split("</tr>")[0]
        assert '<span class="flag late">已超时 1 小时 1 分</span>' in row
        other = page.text.split(f'data-item="after_sale_decision:{second}"')[1].split("</tr>")[0]
        assert "剩余 47 小时" in other
        no_reason = await web.post(
            "/console/inbox/bulk",
            data={"item": chosen, "choice": "reject", "confirm": "yes", "csrf": csrf_of(web)},
        )
        assert no_reason.status_code == 200, no_reason.text
        refused = re.findall(r'<li data-outcome="([^"]+)" class="refusal"', no_reason.text)
        assert sorted(refused) == sorted([first, second])
        assert "rejection needs a reason" in no_reason.text
        assert set(chosen) <= set(rows_of(no_reason.text))  # nothing decided: both still wait

        approved = await web.post(
            "/console/inbox/bulk",
            data={"item": chosen, "choice": "approve", "confirm": "yes", "csrf": csrf_of(web)},
        )
        done = re.findall(r'<li data-outcome="([^"]+)" class="ok"', approved.text)
        assert sorted(done) == sorted([first, second])
        assert not set(chosen) & set(rows_of(approved.text))
    for as_no in (first, second):
        assert (await shown_as(api, as_no, "refunded"))["decided_by"] == "user:cs"
