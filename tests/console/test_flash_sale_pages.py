"""The console's flash sales (catalog group): ops create and schedule one with the form (SKU by
code, price entered as text and parsed exactly to fen, times in Asia/Shanghai), watch it live
(sold, remaining, paid vs unpaid) as storefront buyers order, and stop it early (the unsold
units back to sellable); the list filters, sorts and exports exactly its rows; a forged post and
a person without the permission change nothing."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select

from api.deps import AppDeps
from console.money import format_fen
from models.db import FlashSale, Sku, Stock
from models.domain.business_day import BUSINESS_TZ
from tests.support.console import browser, csrf_of, signed_in, text_of
from tests.support.flash_sales import buy, create_flash_sale, wait_flash_status
from tests.support.order_api import http, pay, skus_in, staff, warehouse_id
from tests.support.stack import Stack


async def _stock(stack: Stack, sku: int, warehouse: int) -> tuple[int, int]:
    async with stack.sessions() as session:
        row = await session.get(Stock, (sku, warehouse), populate_existing=True)
        return (row.on_hand, row.reserved) if row else (0, 0)


def _local(moment: datetime) -> str:
    return moment.astimezone(BUSINESS_TZ).strftime("%Y-%m-%dT%H:%M:%S")


async def test_create_watch_and_stop_a_flash_sale_in_the_console(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    sh = await warehouse_id(stack, "SH01")
    [sku] = await skus_in(stack, "SH01")
    async with stack.sessions() as session:
        code, list_price = (await session.execute(
            select(Sku.code, Sku.list_price_fen).where(Sku.id == sku)
        )).one()  # fmt: skip
    before = await _stock(stack, sku, sh)
    now = datetime.now(BUSINESS_TZ)

    async with browser(deps) as ops:
        await signed_in(ops, "ops")
        form = await ops.get("/console/flash-sales/new")
        assert form.status_code == 200 and 'id="flash-form"' in form.text
        data = {"csrf": csrf_of(ops), "name": "双十二秒杀", "sku": code,
                "warehouse_id": str(sh), "price": "12.345", "quantity": "5", "limit": "2",
                "starts": _local(now - timedelta(minutes=1)),
                "ends": _local(now + timedelta(hours=1))}  # fmt: skip
        bad_price = await ops.post("/console/flash-sales/new", data=data)
        assert bad_price.status_code == 422 and "请输入秒杀价" in text_of(bad_price.text)
        unknown = await ops.post("/console/flash-sales/new", data={**data, "sku": "NO-SUCH"})
        assert unknown.status_code == 422 and "NO-SUCH" in text_of(unknown.text)
        too_dear = {**data, "price": f"{list_price / 100 + 1:.2f}"}
        refused = await ops.post("/console/flash-sales/new", data=too_dear)
        assert refused.status_code == 422 and "price_fen" not in text_of(refused.text)
        assert f"价格：须低于标价 {format_fen(list_price)}" in text_of(refused.text)
        created = await ops.post("/console/flash-sales/new", data={**data, "price": "2.34"})
        assert created.status_code == 303, created.text
        sale_id = int(re.findall(r"/flash-sales/(\d+)", created.headers["location"])[0])
        page = await ops.get(created.headers["location"])
        assert "已创建" in text_of(page.text) and '/watch" hx-trigger' in page.text
        assert "¥2.34" in text_of(page.text)  # entered as text, kept exactly in fen
        shown_sku = page.text.split('id="flash-sku">')[1].split("</dd>")[0]
        assert code in shown_sku and shown_sku != str(sku)  # by code (and name), not its id
        async with stack.sessions() as session:
            sale = await session.get(FlashSale, sale_id)
        assert sale is not None and (sale.price_fen, sale.planned, sale.per_customer_limit) == (
            234, 5, 2,
        )  # fmt: skip
        assert abs(sale.starts_at - (now - timedelta(minutes=1))) < timedelta(seconds=1)

        await wait_flash_status(api, sale_id, "open", await staff(api, "ops"))
        paid = await buy(api, sale_id, sku, customer_id=31, key="console-31", quantity=2)
        unpaid = await buy(api, sale_id, sku, customer_id=32, key="console-32")
        assert paid.status_code == unpaid.status_code == 201
        async with http(stack.payments) as provider:
            await pay(api, provider, paid.json()["order_no"])
        for _ in range(100):
            watched = await ops.get(f"/console/flash-sales/{sale_id}/watch")
            if 'id="fig-paid">2 / 2<' in watched.text.replace("\n", ""):
                break
        shown = watched.text
        assert re.search(r'id="fig-sold">3<', shown) and re.search(r'id="fig-remaining">2<', shown)
        assert re.search(r'id="fig-unpaid">1 / 1<', shown)
        assert "进行中" in text_of(shown)

        detail = f"/console/flash-sales/{sale_id}"
        forged = await ops.post(f"{detail}/stop", data={"csrf": "forged", "reason": "x y"})
        assert forged.status_code == 403
        no_reason = await ops.post(f"{detail}/stop", data={"csrf": csrf_of(ops), "reason": ""})
        assert no_reason.status_code == 422 and "请填写原因" in text_of(no_reason.text)
        stopped = await ops.post(
            f"{detail}/stop", data={"csrf": csrf_of(ops), "reason": "提前售罄"}
        )
        assert stopped.status_code == 303
        page = await ops.get(stopped.headers["location"])
        assert "已结束：未售出的库存已退回可售" in text_of(page.text)
        assert "提前结束：提前售罄" in text_of(page.text)  # the staff's reason, said as a stop
        assert 'id="stop"' not in page.text and '/watch" hx-trigger' not in page.text
        assert re.search(r'id="fig-returned">2<', page.text)
        assert await _stock(stack, sku, sh) == (before[0], before[1] + 3)

        listed = await ops.get("/console/flash-sales", params={"status": "closed"})
        assert sale.flash_no in listed.text
        assert sale.flash_no not in (await ops.get("/console/flash-sales?status=open")).text
        exported = await ops.get("/console/flash-sales/export.csv", params={"status": "closed"})
        rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
        assert [r[0] for r in rows[1:]] == [sale.flash_no]
        assert rows[1][4:8] == ["¥2.34", "已结束", "5", "3"]
        xlsx = await ops.get("/console/flash-sales/export.xlsx", params={"status": "closed"})
        assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")

    async with browser(deps) as finance:
        await signed_in(finance, "finance")
        assert (await finance.get("/console/flash-sales/new")).status_code == 403
        shown = await finance.get(f"/console/flash-sales/{sale_id}")
        assert shown.status_code == 200 and 'id="stop"' not in shown.text


async def test_a_sale_whose_window_ended_says_so_in_the_pages_language(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    ops = await staff(api, "ops")
    sh = await warehouse_id(stack, "SH01")
    [sku] = await skus_in(stack, "SH01")
    sale = await create_flash_sale(
        api, ops, sku_id=sku, warehouse_id=sh, price_fen=1, quantity=1, lasts=timedelta(seconds=2)
    )
    closed = await wait_flash_status(api, sale["id"], "closed", ops, seconds=30)
    assert (closed["closed_by"], closed["close_reason"]) == ("system:flash-sale", "window ended")

    async with browser(deps) as viewer:
        await signed_in(viewer, "ops")
        page = text_of((await viewer.get(f"/console/flash-sales/{sale['id']}")).text)
        assert "活动时间已到，自动结束" in page and "window ended" not in page
        assert "提前结束" not in page
        viewer.cookies.set("houtai_lang", "en")
        english = text_of((await viewer.get(f"/console/flash-sales/{sale['id']}")).text)
        assert "Its window ended" in english
