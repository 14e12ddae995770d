"""The after-sales part of the console over the whole back office: the queue and the detail for
every staff role (allowed renders, forbidden is the 403 page), the queue's filters, sort, pages and
exports, and the actions — confirmed, CSRF-checked, the API's refusal shown in the page, done as
the person from their address."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import httpx
import openpyxl
from sqlalchemy import select, update

from api.deps import AppDeps
from models.db import AfterSale, AuditEntry
from models.domain.access import allowed
from tests.support.after_sale_api import delivered, open_after_sale, shown_as
from tests.support.console import BROWSER_IP, STAFF_ROLES, browser, csrf_of, signed_in, text_of
from tests.support.order_api import Json, http, skus_in, staff
from tests.support.orders import eventually
from tests.support.stack import Stack
from workers.seed import DEMO_PASSWORD


async def _delivered(stack: Stack, api: httpx.AsyncClient, quantity: int, key: str) -> Json:
    [sku] = await skus_in(stack, "SH01", 1, only=True)
    async with http(stack.carrier) as carrier:
        return await delivered(stack, api, carrier, [(sku, quantity)], key=key)


async def _backdate(stack: Stack, as_no: str, days: int) -> None:
    async with stack.sessions() as session:
        await session.execute(
            update(AfterSale)
            .where(AfterSale.as_no == as_no)
            .values(last_progress_at=datetime.now(UTC) - timedelta(days=days, hours=1))
        )
        await session.commit()


def _numbers(html: str) -> list[str]:
    return re.findall(r'<tr data-after-sale="([^"]+)">', html)


async def test_every_after_sale_page_for_every_staff_role(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    order = await _delivered(stack, api, 2, "as-every-role")
    as_no = await open_after_sale(api, order["order_no"], "every-role", "refund_only", [(1, 1)])

    for role in STAFF_ROLES:
        roles = frozenset({role})
        async with browser(deps) as web:
            await signed_in(web, role)
            home = await web.get("/console/")
            assert ('href="/console/after-sales"' in home.text) == allowed(
                roles, "aftersales.review"
            ), role
            assert 'href="/console/inbox"' in home.text, role

            queue = await web.get("/console/after-sales")
            if allowed(roles, "aftersales.review"):
                assert queue.status_code == 200, (role, queue.text)
                assert _numbers(queue.text) == [as_no]
                assert "仅退款" in queue.text and "待审核" in queue.text
                for kind in ("csv", "xlsx"):
                    assert (await web.get(f"/console/after-sales/export.{kind}")).status_code == 200
            else:
                assert queue.status_code == 403, role
                assert "无权访问" in queue.text and as_no not in queue.text
                exported = await web.get("/console/after-sales/export.csv")
                assert exported.status_code == 403, role

            detail = await web.get(f"/console/after-sales/{as_no}")
            assert detail.status_code == 200, (role, detail.text)
            page = text_of(detail.text)
            assert f"售后单 {as_no}" in page and "时间线" in page and "售后申请" in page
            assert order["order_no"] in page and "质量问题" in page
            assert f"/workflows/aftersale-{as_no}" in detail.text
            assert ('id="decision"' in detail.text) == allowed(roles, "aftersales.decide"), role
            assert 'id="withdraw"' not in detail.text  # only the storefront withdraws

            inbox = await web.get("/console/inbox")
            assert inbox.status_code == 200, role
            shown = f'data-item="after_sale_decision:{as_no}"' in inbox.text
            assert shown == allowed(roles, "aftersales.decide"), role


async def test_cs_decides_with_confirmation_and_reason_and_the_api_refusal_is_shown(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    order = await _delivered(stack, api, 3, "as-decide")
    number = order["order_no"]
    rejected = await open_after_sale(api, number, "to-reject", "refund_only", [(1, 1)])
    approved = await open_after_sale(api, number, "to-approve", "refund_only", [(1, 1)])

    async with browser(deps) as web:
        await signed_in(web, "ops")
        await web.get(f"/console/after-sales/{approved}")
        forbidden = await web.post(
            f"/console/after-sales/{approved}/decision",
            data={"csrf": csrf_of(web), "decision": "approve", "confirm": "yes"},
        )
        assert forbidden.status_code == 403 and "无权访问" in forbidden.text

    async with browser(deps) as web:
        await signed_in(web, "cs")
        await web.get(f"/console/after-sales/{rejected}")
        forged = await web.post(
            f"/console/after-sales/{rejected}/decision",
            data={"csrf": "forged" * 8, "decision": "reject", "reason": "x", "confirm": "yes"},
        )
        assert forged.status_code == 403 and "请求已失效" in forged.text
        unconfirmed = await web.post(
            f"/console/after-sales/{rejected}/decision",
            data={"csrf": csrf_of(web), "decision": "reject", "reason": "图片不清晰"},
        )
        assert unconfirmed.status_code == 422 and "请勾选确认后再提交" in unconfirmed.text
        no_reason = await web.post(
            f"/console/after-sales/{rejected}/decision",
            data={"csrf": csrf_of(web), "decision": "reject", "confirm": "yes"},
        )
        assert no_reason.status_code in (409, 422), no_reason.text
        shown = text_of(no_reason.text)
        assert "操作被拒绝" in shown and "rejection needs a reason" in shown
        assert 'id="decision"' in no_reason.text  # the form is still there to try again
        answer = await web.post(
            f"/console/after-sales/{rejected}/decision",
            data={
                "csrf": csrf_of(web),
                "decision": "reject",
                "reason": "超出售后范围",
                "confirm": "yes",
            },
        )
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == f"/console/after-sales/{rejected}?done=rejected"
        page = text_of((await web.get(answer.headers["location"])).text)
        assert "已拒绝该售后申请" in page and "超出售后范围" in page

        approving = await web.post(
            f"/console/after-sales/{approved}/decision",
            data={"csrf": csrf_of(web), "decision": "approve", "confirm": "yes"},
        )
        assert approving.status_code == 303, approving.text
        refunded = await shown_as(api, approved, "refunded")

        async def refund_on_page() -> str | None:
            page = text_of((await web.get(f"/console/after-sales/{approved}")).text)
            return page if "售后已退款" in page else None

        page = await eventually(refund_on_page, "the refund on the after-sale's timeline")
        fen = refunded["refund_fen"]
        assert f"退款金额 ¥{fen // 100:,}.{fen % 100:02d}" in page and "已退款" in page
        again = await web.post(
            f"/console/after-sales/{approved}/decision",
            data={"csrf": csrf_of(web), "decision": "approve", "confirm": "yes"},
        )
        assert again.status_code == 403 or again.status_code >= 409  # decided: the API says no
        assert "操作被拒绝" in text_of(again.text) or "无权访问" in again.text

    assert (await shown_as(api, rejected, "rejected"))["decision_reason"] == "超出售后范围"
    async with stack.sessions() as session:
        audit = await session.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "after_sale.decide", AuditEntry.object_id == rejected
            )
        )
    assert audit is not None and (audit.actor_name, audit.client_ip) == ("cs", BROWSER_IP)


async def test_the_queue_filters_sorts_pages_and_exports_exactly_its_rows(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    first = await _delivered(stack, api, 4, "as-queue-1")
    second = await _delivered(stack, api, 2, "as-queue-2")
    a = await open_after_sale(api, first["order_no"], "qa", "refund_only", [(1, 1)])
    b = await open_after_sale(api, first["order_no"], "qb", "return_and_refund", [(1, 2)])
    c = await open_after_sale(api, second["order_no"], "qc", "refund_only", [(1, 1)])
    await _backdate(stack, a, 3)
    await _backdate(stack, c, 1)

    async with browser(deps) as web:
        await signed_in(web, "cs")

        async def listed(**params: str) -> list[str]:
            page = await web.get("/console/after-sales", params=params)
            assert page.status_code == 200, page.text
            return _numbers(page.text)

        assert await listed() == [a, c, b]  # longest idle first
        assert await listed(sort="-last_progress_at") == [b, c, a]
        assert await listed(type="return_and_refund") == [b]
        assert await listed(type="refund_only") == [a, c]
        assert await listed(order_no=second["order_no"]) == [c]
        assert await listed(stuck_days="2") == [a]
        assert await listed(stuck_days="1", type="refund_only") == [a, c]
        assert await listed(status="requested", order_no=first["order_no"]) == [a, b]
        assert await listed(status="refunded") == []
        bad = await web.get("/console/after-sales", params={"type": "bogus", "stuck_days": "x"})
        assert bad.status_code == 200
        assert "筛选条件 type 无效" in bad.text and "筛选条件 stuck_days 无效" in bad.text
        assert sorted(_numbers(bad.text)) == sorted([a, b, c])

        fragment = await web.get(
            "/console/after-sales", params={"type": "refund_only"}, headers={"HX-Request": "true"}
        )
        assert "<html" not in fragment.text and _numbers(fragment.text) == [a, c]
        assert fragment.headers["HX-Push-Url"] == "/console/after-sales?type=refund_only"

        exported = await web.get(
            "/console/after-sales/export.csv", params={"type": "refund_only", "stuck_days": "1"}
        )
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert rows[0][:4] == ["售后单号", "订单号", "类型", "状态"]
        assert [r[0] for r in rows[1:]] == [a, c]
        assert rows[1][2:4] == ["仅退款", "待审核"]
        workbook = await web.get(
            "/console/after-sales/export.xlsx", params={"type": "return_and_refund"}
        )
        sheet = openpyxl.load_workbook(io.BytesIO(workbook.content)).active
        assert sheet is not None
        values = [[cell.value for cell in row] for row in sheet.iter_rows()]
        assert [r[0] for r in values[1:]] == [b] and values[1][2] == "退货退款"


async def test_cs_retries_a_refused_refund_from_the_inbox_row_to_the_detail_page(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    order = await _delivered(stack, api, 2, "as-retry")
    as_no = await open_after_sale(api, order["order_no"], "as-retry", "refund_only", [(1, 1)])
    async with http(stack.payments) as provider:
        refusing = await provider.put(
            "/_sandbox/refund-refusals", json={"count": 1, "reason": "merchant balance low"}
        )
        assert refusing.status_code == 200, refusing.text

    async with browser(deps) as web:
        await signed_in(web, "cs")
        await web.get(f"/console/after-sales/{as_no}")
        approved = await web.post(
            f"/console/after-sales/{as_no}/decision",
            data={"csrf": csrf_of(web), "decision": "approve", "confirm": "yes"},
        )
        assert approved.status_code == 303, approved.text

        async def in_inbox() -> str | None:
            page = await web.get("/console/inbox", params={"kind": "refund_retry"})
            return page.text if f'data-item="refund_retry:{as_no}"' in page.text else None

        inbox = await eventually(in_inbox, "the refused refund in the inbox")
        assert f'href="/console/after-sales/{as_no}"' in inbox and "退款被拒待重试" in inbox
        detail = await web.get(f"/console/after-sales/{as_no}")
        page = text_of(detail.text)
        assert 'id="retry"' in detail.text and "退款被支付机构拒绝" in page
        assert "merchant balance low" in page
        unconfirmed = await web.post(
            f"/console/after-sales/{as_no}/retry-refund",
            data={"csrf": csrf_of(web), "reason": "已充值"},
        )
        assert unconfirmed.status_code == 422 and "请勾选确认后再提交" in unconfirmed.text
        retried = await web.post(
            f"/console/after-sales/{as_no}/retry-refund",
            data={"csrf": csrf_of(web), "reason": "已充值", "confirm": "yes"},
        )
        assert retried.status_code == 303, retried.text
        assert "已重新发起退款" in (await web.get(retried.headers["location"])).text
        await shown_as(api, as_no, "refunded")
        twice = await web.post(
            f"/console/after-sales/{as_no}/retry-refund",
            data={"csrf": csrf_of(web), "reason": "again", "confirm": "yes"},
        )
        assert twice.status_code == 409 and "操作被拒绝" in text_of(twice.text)
        assert 'id="refusal"' in twice.text  # no retry form any more: shown at the top
        after = await web.get("/console/inbox")
        assert f'data-item="refund_retry:{as_no}"' not in after.text


async def test_a_person_whose_role_may_file_after_sales_withdraws_one_confirmed(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    order = await _delivered(stack, api, 2, "as-withdraw")
    as_no = await open_after_sale(api, order["order_no"], "as-withdraw", "refund_only", [(1, 1)])
    admin = await staff(api, "admin")
    role = await api.post(
        "/v1/admin/roles",
        json={
            "name": "cs_filer",
            "permissions": ["self.read", "orders.read", "aftersales.read", "aftersales.request"],
        },
        headers=admin,
    )
    assert role.status_code == 201, role.text
    user = await api.post(
        "/v1/admin/users",
        json={
            "username": "filer",
            "display_name": "filer",
            "password": DEMO_PASSWORD,
            "roles": ["cs_filer"],
        },
        headers=admin,
    )
    assert user.status_code == 201, user.text

    async with browser(deps) as web:
        await signed_in(web, "filer")
        page = await web.get(f"/console/after-sales/{as_no}")
        assert 'id="withdraw"' in page.text and 'id="decision"' not in page.text
        assert (await web.get("/console/after-sales")).status_code == 403  # no queue for them
        unconfirmed = await web.post(
            f"/console/after-sales/{as_no}/withdraw", data={"csrf": csrf_of(web)}
        )
        assert unconfirmed.status_code == 422 and "请勾选确认后再提交" in unconfirmed.text
        answer = await web.post(
            f"/console/after-sales/{as_no}/withdraw", data={"csrf": csrf_of(web), "confirm": "yes"}
        )
        assert answer.status_code == 303, answer.text
        done = text_of((await web.get(answer.headers["location"])).text)
        assert "售后申请已撤销" in done
        assert (await shown_as(api, as_no, "withdrawn"))["status"] == "withdrawn"
        again = await web.post(
            f"/console/after-sales/{as_no}/withdraw", data={"csrf": csrf_of(web), "confirm": "yes"}
        )
        assert again.status_code == 409 and "操作被拒绝" in text_of(again.text)
