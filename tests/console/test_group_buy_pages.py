"""The console's group buys (catalog group): ops create and schedule an offer with the form
(price typed as yuan, parsed exactly to fen; times in Asia/Shanghai), watch its groups form on
the offer's page (figures and rows the page polls), see a group's members and their orders,
and stop the offer early: its forming group fails and its members' orders are cancelled. The
list filters and exports exactly its rows; a forged stop changes nothing; a role without
promotions.write sees no form."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select

from api.deps import AppDeps
from console.group_buys import _group_row
from console.i18n import Translator
from models.db import GroupBuyOffer, Order, Sku
from models.domain.business_day import BUSINESS_TZ
from tests.support.console import browser, csrf_of, signed_in, text_of
from tests.support.order_api import skus_in
from tests.support.orders import ADDRESS, SHOP, eventually, known_customer
from tests.support.stack import Stack


def _local(moment: datetime) -> str:
    return moment.astimezone(BUSINESS_TZ).strftime("%Y-%m-%dT%H:%M")


async def _join(api: httpx.AsyncClient, path: str, key: str, customer: int, **extra: object) -> str:
    await known_customer(api, customer)
    body = {"client_order_key": key, "customer_id": customer, "address": ADDRESS, **extra}
    answer = await api.post(path, json=body, headers=SHOP)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["group"]["group_no"])


async def test_create_watch_and_stop_a_group_buy_offer_in_the_console(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    async with stack.sessions() as session:
        code = await session.scalar(select(Sku.code).where(Sku.id == sku))
    now = datetime.now(BUSINESS_TZ)
    form = {"name": "三人团 抽纸", "sku": str(code), "price": "9.90", "group_size": "3",
            "hours": "2", "starts_at": _local(now - timedelta(hours=1)),
            "ends_at": _local(now + timedelta(days=2))}  # fmt: skip

    async with browser(deps) as cs:
        await signed_in(cs, "cs")
        listed = await cs.get("/console/group-buys")
        assert listed.status_code == 200 and 'id="new-offer"' not in listed.text
        assert (await cs.get("/console/group-buys/new")).status_code == 403

    async with browser(deps) as ops:
        await signed_in(ops, "ops")
        page = await ops.get("/console/group-buys/new")
        assert page.status_code == 200 and 'id="offer-form"' in page.text
        data = {"csrf": csrf_of(ops), **form}
        bad = await ops.post("/console/group-buys/new", data={**data, "price": "9.999"})
        assert bad.status_code == 422 and "拼团价须为大于 0 的金额" in text_of(bad.text)
        created = await ops.post("/console/group-buys/new", data=data)
        assert created.status_code == 303, created.text
        offer_id = int(re.findall(r"/group-buys/(\d+)", created.headers["location"])[0])
        shown = await ops.get(created.headers["location"])
        text = text_of(shown.text)
        assert "拼团活动已创建" in text and "¥9.90" in text and "2 小时" in text
        assert "进行中" in text and 'id="stop-offer"' in shown.text
        shown_sku = shown.text.split('id="offer-sku">')[1].split("</dd>")[0]
        assert str(code) in shown_sku and shown_sku != str(sku)  # by code (and name), not its id
        async with stack.sessions() as session:
            offer = await session.get(GroupBuyOffer, offer_id)
            assert offer is not None
            assert (offer.group_price_fen, offer.group_size, offer.time_limit_minutes) == (
                990,
                3,
                120,
            )
            assert offer.starts_at == now.replace(second=0, microsecond=0) - timedelta(hours=1)

        # Two buyers form a group; the page's live part shows it forming with two members.
        group_no = await _join(api, "/v1/group-buys", "cg-1", 701, offer_id=offer_id)
        await _join(api, f"/v1/group-buys/{group_no}/members", "cg-2", 702)
        live = await ops.get(f"/console/group-buys/{offer_id}/watch")
        text = text_of(live.text)
        assert f'data-group="{group_no}" data-status="forming"' in live.text
        assert "2/3" in text and "hx-trigger" in live.text
        assert re.search(r'id="fig-forming">1<', live.text)
        assert re.search(r'id="fig-members">2<', live.text)
        group_page = await ops.get(f"/console/group-buys/groups/{group_no}")
        assert group_page.text.count("待付款") == 2
        orders = re.findall(r'data-order="(SO\d+)"', group_page.text)
        assert len(orders) == 2

        # The list: filtered to live offers it shows this one; exported, exactly its rows.
        live_list = await ops.get("/console/group-buys", params={"status": "live"})
        assert f'data-offer="{offer_id}"' in live_list.text
        exported = await ops.get("/console/group-buys/export.csv", params={"status": "live"})
        rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert rows[0][:3] == ["活动 ID", "活动名称", "SKU"]
        assert [r[0] for r in rows[1:]] == [str(offer_id)]
        assert rows[1][3] == "¥9.90" and rows[1][-4:] == ["1", "0", "0", "2"]

        # Stop early: a forged post changes nothing; the real one fails the forming group.
        detail = f"/console/group-buys/{offer_id}"
        forged = await ops.post(f"{detail}/stop", data={"csrf": "forged", "reason": "调价"})
        assert forged.status_code == 403
        stopped = await ops.post(f"{detail}/stop", data={"csrf": csrf_of(ops), "reason": "调价"})
        assert stopped.status_code == 303, stopped.text
        page = await ops.get(stopped.headers["location"])
        assert "活动已结束" in text_of(page.text) and "已提前结束" in text_of(page.text)
        assert 'id="stop-offer"' not in page.text

        async def failed() -> str | None:
            watched = await ops.get(f"{detail}/watch", params={"status": "failed"})
            return watched.text if f'data-group="{group_no}"' in watched.text else None

        watched = await eventually(failed, "the forming group failed")
        assert "活动已停止：调价" in text_of(watched) and "offer stopped" not in watched
        groups = await ops.get(f"{detail}/export.csv", params={"status": "failed"})
        rows = list(csv.reader(io.StringIO(groups.content.decode("utf-8-sig"))))
        assert rows[0][-1] == "失败原因"
        assert [(r[0], r[1], r[-1]) for r in rows[1:]] == [(group_no, "已失败", "活动已停止：调价")]
        stopped_list = await ops.get("/console/group-buys", params={"status": "live"})
        assert f'data-offer="{offer_id}"' not in stopped_list.text

    async def cancelled() -> bool | None:
        async with stack.sessions() as session:
            found = await session.scalars(
                select(Order.status)
                .where(Order.order_no.in_(orders))
                .execution_options(populate_existing=True)
            )
            return set(found) == {"cancelled"} or None

    await eventually(cancelled, "both members' orders cancelled")


def test_the_groups_export_says_why_a_group_failed_as_the_page_does() -> None:
    """A group past its time limit: the page says 超过成团时限, so does its row in the export
    (not the stored "time limit passed"); a staff stop's own words stay as they are."""
    row = {"group_no": "GB1", "status": "failed", "opened_by": 7, "members": 1, "group_size": 2,
           "paid": 0, "opened_at": "2026-12-01T10:00:00+00:00",
           "deadline": "2026-12-01T11:00:00+00:00", "finished_at": "2026-12-01T11:00:00+00:00",
           "reason": "time limit passed"}  # fmt: skip
    assert _group_row(row, Translator("zh_CN"))[-1] == "超过成团时限"
    assert _group_row(row, Translator("en"))[-1] == "Time limit passed"
    assert _group_row({**row, "reason": "调价"}, Translator("zh_CN"))[-1] == "调价"
    assert _group_row({**row, "status": "forming", "reason": ""}, Translator("zh_CN"))[-1] == ""
