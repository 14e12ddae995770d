"""The members part of the console: customers found by phone, name or order number, the
customer page (orders, after-sales, coupons; the contact masked until an audited reveal),
segments created from the form (amounts parsed exactly), and a coupon batch issued from the
segment page whose progress the page shows until done. Everything through /v1 as the person."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, datetime

import httpx
import openpyxl
from sqlalchemy import select

from api.deps import AppDeps
from models.db import AuditEntry, CouponBatch, CustomerCoupon, Segment
from services import points
from tests.support.console import browser, csrf_of, signed_in, text_of
from tests.support.members import a_coupon, past_order, upsert
from tests.support.order_api import lines_of, only_in, order_body, place_order, staff
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
        # Points and level: the loyalty part's page of this customer (its record), one link away.
        assert "积分与等级" in words
        points = await web.get(f"/console/customers/{me['id']}/points")
        assert points.status_code == 200 and "积分" in text_of(points.text)
        assert f'/console/customers/{me["id"]}/points"' in detail.text

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

        # The form is sent twice (a double click): its key starts one batch.
        shown = (await web.get(f"/console/members/segments/{segment.id}")).text
        key = re.findall(r'name="key" value="([^"]+)"', shown)[0]
        posted = {"csrf": csrf_of(web), "coupon_id": str(coupon), "key": key}
        for _ in range(2):
            issued = await web.post(
                f"/console/members/segments/{segment.id}/coupon-batches", data=posted
            )
            assert issued.status_code == 303, issued.text
        async with stack.sessions() as session:
            started = (
                await session.scalars(
                    select(CouponBatch.id).where(CouponBatch.segment_id == segment.id)
                )
            ).all()
        assert len(started) == 1
        fresh = (await web.get(f"/console/members/segments/{segment.id}")).text
        assert key not in fresh  # the next form shown is another issue

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
        assert 'id="archive-segment"' not in page.text  # cs archives nothing either

        # Archived by ops: off the list, on the archived one, no more coupons from its page.
        await signed_in(web, "ops")
        archive = f"/console/members/segments/{segment.id}/archive"
        unconfirmed = await web.post(archive, data={"csrf": csrf_of(web)})
        assert unconfirmed.status_code == 422 and "请勾选确认后再提交" in text_of(unconfirmed.text)
        archived = await web.post(archive, data={"csrf": csrf_of(web), "confirm": "yes"})
        assert archived.status_code == 303, archived.text
        page = await web.get(archived.headers["location"])
        assert "人群已归档" in text_of(page.text) and 'id="segment-archived"' in page.text
        assert 'id="issue-coupons"' not in page.text and 'id="archive-segment"' not in page.text
        in_use = await web.get("/console/members/segments")
        assert f'data-segment="{segment.id}"' not in in_use.text
        shelved = await web.get("/console/members/segments", params={"archived": "true"})
        assert f'data-segment="{segment.id}"' in shelved.text
        assert "已归档的人群" in text_of(shelved.text) and 'id="new-segment"' not in shelved.text
        late = await web.post(
            f"/console/members/segments/{segment.id}/coupon-batches",
            data={"csrf": csrf_of(web), "coupon_id": str(coupon)},
        )
        assert late.status_code == 409 and "人群已归档，不能发券" in text_of(late.text)
    async with stack.sessions() as session:
        given = (await session.scalars(select(CustomerCoupon.customer_id))).all()
    assert len(given) == 1


async def test_the_customer_page_shows_points_level_history_and_coupons_in_use(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    """Orders, after-sales, points (balance, growth, level, the latest bookings), the level
    history and the coupons issued (with the order using one) on the customer's page."""
    me = await upsert(api, 91, "李清照", "13700000091")
    ops, cs = await staff(api, "ops"), await staff(api, "cs")
    base = 2 * 10**11  # above any growth the other tests' customers reach
    levels = [
        {"code": "SILVER9", "name": "白银会员", "growth_threshold": base},
        {"code": "GOLD9", "name": "黄金会员", "growth_threshold": base + 500},
    ]
    made = await api.put("/v1/loyalty/settings/levels", headers=ops, json={"levels": levels})
    assert made.status_code == 200, made.text
    async with stack.sessions() as session:
        await points.book(session, me["id"], "earn", 321, "SO-LQ-1:earn", growth=base + 10)
        await points.relevel(session, me["id"], order_no="SO-LQ-1")
        await points.book(session, me["id"], "earn", 9, "SO-LQ-2:earn", growth=600)
        await points.relevel(session, me["id"], order_no="SO-LQ-2")
        await session.commit()
    granted = await api.post(
        f"/v1/customers/{me['id']}/points/adjustments",
        headers=cs,
        json={"key": "lq", "points": -30, "reason": "扣减"},
    )
    assert granted.status_code == 201, granted.text
    coupon = await a_coupon(stack, "LQ10")
    async with stack.sessions() as session:
        batch = CouponBatch(segment_id=await a_segment(stack), coupon_id=coupon, rules=[],
                            as_of=datetime.now(UTC), total=1, created_by="test")  # fmt: skip
        session.add(batch)
        await session.flush()
        session.add(CustomerCoupon(batch_id=batch.id, customer_id=me["id"], coupon_id=coupon,
                                   used_order_no="SO-LQ-9"))  # fmt: skip
        await session.commit()

    async with browser(deps) as web:
        await signed_in(web, "cs")
        page = await web.get(f"/console/members/customers/{me['id']}")
        assert page.status_code == 200, page.text
        words = text_of(page.text)
        assert "订单（0）" in words and "售后（0）" in words and "优惠券（1）" in words
        account = text_of(page.text.split('id="customer-account"')[1].split("</dl>")[0])
        assert "300" in account and str(base + 610) in account
        assert "黄金会员 (GOLD9)" in account
        ledger = page.text.split('id="customer-ledger"')[1].split("</table>")[0]
        assert "+321" in ledger and "+9" in ledger and "-30" in ledger
        assert ledger.index("-30") < ledger.index("+9") < ledger.index("+321")  # newest first
        history = text_of(page.text.split('id="customer-level-history"')[1].split("</table>")[0])
        assert "白银会员 黄金会员" in history and "SO-LQ-2" in history
        assert "SO-LQ-1" in history
        coupons = text_of(page.text.split('id="customer-coupons"')[1].split("</table>")[0])
        assert "LQ10" in coupons and "已使用 SO-LQ-9" in coupons

        # A segment of level ≥ 黄金会员 from the form: the levels offered by name.
        await signed_in(web, "ops")
        gold = next(lv["id"] for lv in made.json()["levels"] if lv["code"] == "GOLD9")
        form_page = await web.get("/console/members/segments")
        assert f'<option value="{gold}"' in form_page.text and "黄金会员" in form_page.text
        created = await web.post(
            "/console/members/segments",
            data={"csrf": csrf_of(web), "name": "金卡以上", "rule": "level_at_least",
                  "level_id": str(gold)},
        )  # fmt: skip
        assert created.status_code == 303, created.text
        async with stack.sessions() as session:
            segment = await session.scalar(select(Segment).where(Segment.name == "金卡以上"))
        assert segment is not None
        assert segment.rules == [{"kind": "level_at_least", "level_id": gold}]
        shown = text_of((await web.get(created.headers["location"])).text)
        assert "等级 ≥ 黄金会员 (GOLD9)" in shown and "当前人数 1" in shown
        bad = await web.post(
            "/console/members/segments",
            data={"csrf": csrf_of(web), "name": "坏的", "rule": "level_at_least",
                  "level_id": "abc"},
        )  # fmt: skip
        assert bad.status_code == 422

        await signed_in(web, "warehouse_manager")  # no customers.read: no page at all
        refused = await web.get(f"/console/members/customers/{me['id']}")
        assert refused.status_code == 403


async def a_segment(stack: Stack) -> int:
    async with stack.sessions() as session:
        segment = Segment(name="李清照的人群", rules=[])
        session.add(segment)
        await session.commit()
        return segment.id


async def test_a_customer_with_more_orders_than_a_page_pages_through_them(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    """Orders beyond the first 50 are a page away on the customer's page, none left out."""
    me = await upsert(api, 93, "苏轼", "13700000093")
    for n in range(53):  # newest first: SO-MANY-00 placed today, SO-MANY-52 52 days ago
        await past_order(stack, f"SO-MANY-{n:02d}", 93, days_ago=n, paid_fen=100)
    async with browser(deps) as web:
        await signed_in(web, "cs")
        first = await web.get(f"/console/members/customers/{me['id']}")
        assert "订单（53）" in text_of(first.text)
        on_first = re.findall(r'data-order="(SO-MANY-\d+)"', first.text)
        assert on_first == [f"SO-MANY-{n:02d}" for n in range(50)]
        pager = first.text.split('id="orders-pager"')[1].split("</nav>")[0]
        assert "第 1 / 2 页" in text_of(pager) and "?orders_page=2" in pager
        second = await web.get(f"/console/members/customers/{me['id']}", params={"orders_page": 2})
        on_second = re.findall(r'data-order="(SO-MANY-\d+)"', second.text)
        assert on_second == ["SO-MANY-50", "SO-MANY-51", "SO-MANY-52"]
        assert 'id="after-sales-pager"' not in second.text  # none: one page, no pager


async def test_a_segment_edited_from_its_page_and_its_batches_keep_their_rules(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    for key in range(91, 94):
        await upsert(api, key, f"会员{key}", f"1380000{key:04d}")
    await past_order(stack, "SO-ED-1", 91, days_ago=10, paid_fen=60_000)
    await past_order(stack, "SO-ED-2", 92, days_ago=10, paid_fen=35_000)
    ops = await staff(api, "ops")
    big = {"kind": "paid_at_least", "min_fen": 50_000, "days": 90}
    made = await api.post("/v1/segments", json={"name": "大客户", "rules": [big]}, headers=ops)
    dormant = {"name": "沉睡", "rules": [{"kind": "no_order_in", "days": 180}]}
    other = await api.post("/v1/segments", json=dormant, headers=ops)
    assert made.status_code == other.status_code == 201, (made.text, other.text)
    segment = made.json()
    async with stack.sessions() as session:  # a batch issued under the rules as they were
        session.add(CouponBatch(segment_id=segment["id"], coupon_id=await a_coupon(stack, "ED"),
                                rules=[big], status="done", as_of=datetime.now(UTC), total=1,
                                issued=1, created_by="ops"))  # fmt: skip
        await session.commit()
    path = f"/console/members/segments/{segment['id']}"

    async with browser(deps) as web:
        await signed_in(web, "ops")
        page = (await web.get(path)).text
        # The form shows the segment as it is.
        assert 'id="edit-name" value="大客户"' in page
        assert 'id="edit-paid_min" value="500.00"' in page
        assert 'id="edit-paid_days" value="90"' in page
        assert re.search(r'id="edit-rule-paid" checked', page)
        assert not re.search(r'id="edit-rule-idle" checked', page)

        edit = {"csrf": csrf_of(web), "name": "中大客户", "rule": "paid_at_least",
                "paid_days": "90", "paid_min": "300"}  # fmt: skip
        unticked = {k: v for k, v in edit.items() if k != "rule"}
        none = await web.post(f"{path}/edit", data=unticked)
        assert none.status_code == 422 and "至少勾选一条规则" in text_of(none.text)
        assert 'id="edit-name" value="中大客户"' in none.text  # what was typed stays
        clash = await web.post(f"{path}/edit", data={**edit, "name": "沉睡"})
        assert clash.status_code == 409 and 'id="edit-name" value="沉睡"' in clash.text

        saved = await web.post(f"{path}/edit", data=edit)
        assert saved.status_code == 303, saved.text
        assert saved.headers["location"] == f"{path}?done=edited"
        shown = text_of((await web.get(saved.headers["location"])).text)
        assert "人群已修改" in shown and "人群：中大客户" in shown
        assert "近 90 天实付 ≥ ¥300.00" in shown and "当前人数 2" in shown
        batches = (await web.get(f"{path}/batches", headers={"HX-Request": "true"})).text
        assert "近 90 天实付 ≥ ¥500.00" in text_of(batches)  # as it was issued
        assert "¥300.00" not in text_of(batches)

        await signed_in(web, "cs")  # reads segments, edits none
        page = (await web.get(path)).text
        assert 'id="edit-segment"' not in page
        assert (
            await web.post(f"{path}/edit", data={**edit, "csrf": csrf_of(web)})
        ).status_code == 403
    async with stack.sessions() as session:
        kept = await session.get(Segment, segment["id"])
        assert kept is not None and (kept.name, kept.rules) == (
            "中大客户", [{**big, "min_fen": 30_000}],
        )  # fmt: skip
