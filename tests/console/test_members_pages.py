"""The members part of the console: customers found by phone, name or order number, the
customer page (orders, after-sales, coupons; the contact masked until an audited reveal),
segments created from the form (amounts parsed exactly), and a coupon batch issued from the
segment page whose progress the page shows until done. Everything through /v1 as the person."""

from __future__ import annotations

import csv
import io

import httpx
import openpyxl
from sqlalchemy import select

from api.deps import AppDeps
from models.db import AuditEntry, CustomerCoupon, Segment
from tests.support.console import browser, csrf_of, signed_in, text_of
from tests.support.members import a_coupon, past_order, upsert
from tests.support.order_api import lines_of, only_in, order_body, place_order
from tests.support.orders import eventually
from tests.support.stack import Stack


async def test_customer_search_page_and_an_audited_reveal(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    sku = await only_in(stack, "SH01")
    number = (await place_order(api, order_body(lines_of((sku, 1)), key="m1", customer_id=71)))[
        "order_no"
    ]
    me = await upsert(api, 71, "欧阳修", "13512345678")
    await upsert(api, 72, "苏轼", "18600000000")

    async with browser(deps) as web:
        await signed_in(web, "cs")
        home = await web.get("/console/")
        assert 'href="/console/members/customers"' in home.text

        for q, shown, hidden in (
            ("1351", "欧**", "苏*"),
            ("苏", "苏*", "欧**"),
            (number, "欧**", "苏*"),
        ):
            page = await web.get("/console/members/customers", params={"q": q})
            assert page.status_code == 200, page.text
            words = text_of(page.text)
            assert shown in words and hidden not in words, (q, words)
            assert ("13512345678" not in words and "135****5678" in words) or q == "苏"
        rows = await web.get(
            "/console/members/customers", params={"q": "1"}, headers={"HX-Request": "true"}
        )
        assert rows.headers["HX-Push-Url"] == "/console/members/customers?q=1"
        assert "<h1>" not in rows.text and "欧**" in rows.text
        exported = await web.get("/console/members/customers/export.csv", params={"q": "1351"})
        table = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
        assert table[1][1:4] == ["71", "欧**", "135****5678"]
        assert len(table) == 2
        workbook = await web.get("/console/members/customers/export.xlsx", params={"sort": "name"})
        sheet = openpyxl.load_workbook(io.BytesIO(workbook.content)).active
        assert sheet is not None and sheet.max_row == 3

        detail = await web.get(f"/console/members/customers/{me['id']}")
        assert detail.status_code == 200, detail.text
        words = text_of(detail.text)
        assert "135****5678" in words and "13512345678" not in words
        assert number in words and "显示完整联系方式" in words
        assert "订单（1）" in words and "售后（0）" in words and "优惠券（0）" in words
        # Points and level: the loyalty part's page of this customer, one link away.
        assert "积分与等级" in words
        points = await web.get(f"/console/customers/{me['customer_key']}/points")
        assert points.status_code == 200 and "积分" in text_of(points.text)
        assert f'/console/customers/{me["customer_key"]}/points"' in detail.text

        revealed = await web.post(
            f"/console/members/customers/{me['id']}/reveal",
            data={"csrf": csrf_of(web)},
            headers={"HX-Request": "true"},
        )
        assert revealed.status_code == 200, revealed.text
        full = text_of(revealed.text)
        assert "13512345678" in full and "欧阳修" in full and "显示完整联系方式" not in full
        again = text_of((await web.get(f"/console/members/customers/{me['id']}")).text)
        assert "13512345678" not in again

    async with stack.sessions() as session:
        [row] = (
            await session.scalars(
                select(AuditEntry).where(AuditEntry.action == "customer.reveal_contact")
            )
        ).all()
    assert (row.actor_name, row.object_id) == ("cs", str(me["id"]))

    async with browser(deps) as web:
        await signed_in(web, "ops")  # finds customers, no pii.read
        page = await web.get(f"/console/members/customers/{me['id']}")
        assert page.status_code == 200 and "显示完整联系方式" not in text_of(page.text)
        refused = await web.post(
            f"/console/members/customers/{me['id']}/reveal", data={"csrf": csrf_of(web)}
        )
        assert refused.status_code == 403
        await signed_in(web, "warehouse_manager")
        assert (await web.get("/console/members/customers")).status_code == 403


async def test_a_segment_from_the_form_and_coupons_issued_to_it_until_done(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    for key in range(81, 85):
        await upsert(api, key, f"会员{key}", f"1380000{key:04d}")
    await past_order(stack, "SO-BIG-1", 81, days_ago=10, paid_fen=50_000)
    await past_order(stack, "SO-BIG-2", 82, days_ago=10, paid_fen=49_999)
    coupon = await a_coupon(stack, "VIP20")

    async with browser(deps) as web:
        await signed_in(web, "ops")
        page = await web.get("/console/members/segments")
        assert page.status_code == 200 and "新建人群" in text_of(page.text)
        form = {"csrf": csrf_of(web), "name": "大客户", "rule": "paid_at_least",
                "paid_days": "90", "paid_min": "500.001"}  # fmt: skip
        inexact = await web.post("/console/members/segments", data=form)
        assert inexact.status_code == 422
        assert "500.001" in text_of(inexact.text)
        none = await web.post("/console/members/segments", data={"csrf": csrf_of(web), "name": "x"})
        assert none.status_code == 422 and "至少勾选一条规则" in text_of(none.text)

        made = await web.post("/console/members/segments", data={**form, "paid_min": "500.00"})
        assert made.status_code == 303, made.text
        async with stack.sessions() as session:
            segment = await session.scalar(select(Segment).where(Segment.name == "大客户"))
        assert segment is not None
        assert segment.rules == [{"kind": "paid_at_least", "min_fen": 50_000, "days": 90}]
        assert made.headers["location"] == f"/console/members/segments/{segment.id}?done=created"
        shown = text_of((await web.get(made.headers["location"])).text)
        assert "人群已创建" in shown and "近 90 天实付 ≥ ¥500.00" in shown
        assert "当前人数 1" in shown and "会员81" not in shown  # masked: 会*****

        again = await web.post("/console/members/segments", data={**form, "paid_min": "1"})
        assert again.status_code == 409 and "大客户" in text_of(again.text)

        issued = await web.post(
            f"/console/members/segments/{segment.id}/coupon-batches",
            data={"csrf": csrf_of(web), "coupon_id": str(coupon)},
        )
        assert issued.status_code == 303, issued.text

        async def done() -> str | None:
            fragment = await web.get(
                f"/console/members/segments/{segment.id}/batches", headers={"HX-Request": "true"}
            )
            return fragment.text if 'data-status="done"' in fragment.text else None

        fragment = text_of(await eventually(done, "the batch done"))
        assert "已发 1 / 1" in fragment and "已完成" in fragment
        settled = (await web.get(f"/console/members/segments/{segment.id}")).text
        assert 'hx-trigger="every 1s"' not in settled  # nothing running: no more polling

        await signed_in(web, "cs")  # reads segments, issues nothing
        page = await web.get(f"/console/members/segments/{segment.id}")
        assert page.status_code == 200 and "向人群发券" not in text_of(page.text)
        refused = await web.post(
            f"/console/members/segments/{segment.id}/coupon-batches",
            data={"csrf": csrf_of(web), "coupon_id": str(coupon)},
        )
        assert refused.status_code == 403
    async with stack.sessions() as session:
        given = (await session.scalars(select(CustomerCoupon.customer_id))).all()
    assert len(given) == 1
