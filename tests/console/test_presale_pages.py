"""The console's presales (catalog group): ops create and schedule one with the form (SKU by
code, price and deposit entered as text and parsed exactly to fen, times in Asia/Shanghai, the
forfeit and refund rules), watch it live (deposits paid as storefront buyers pay them) and stop
it early; the list filters and exports exactly its rows; a forged post and a person without the
permission change nothing."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timedelta

import httpx
from sqlalchemy import select

from api.deps import AppDeps
from models.db import Presale, Sku
from models.domain.business_day import BUSINESS_TZ
from tests.support.console import browser, csrf_of, signed_in, text_of
from tests.support.order_api import http, skus_in
from tests.support.orders import SHOP, eventually, wait_cancelled
from tests.support.presales import buy_presale, pay_stage, wait_step
from tests.support.stack import Stack


def _local(moment: datetime) -> str:
    return moment.astimezone(BUSINESS_TZ).strftime("%Y-%m-%dT%H:%M:%S")


async def test_create_watch_and_stop_a_presale_in_the_console(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    async with stack.sessions() as session:
        code = (await session.execute(select(Sku.code).where(Sku.id == sku))).scalar_one()
    now = datetime.now(BUSINESS_TZ)

    async with browser(deps) as ops:
        await signed_in(ops, "ops")
        form = await ops.get("/console/presales/new")
        assert form.status_code == 200 and 'id="presale-form"' in form.text
        data = {"csrf": csrf_of(ops), "name": "新品预售", "sku": code, "price": "12.345",
                "deposit": "2.00", "starts": _local(now - timedelta(minutes=1)),
                "balance_starts": _local(now + timedelta(hours=1)),
                "balance_ends": _local(now + timedelta(hours=2)),
                "forfeit": "100", "refund": "50"}  # fmt: skip
        bad_price = await ops.post("/console/presales/new", data=data)
        assert bad_price.status_code == 422 and "请以元填写预售价和定金" in text_of(bad_price.text)
        bad_rule = await ops.post(
            "/console/presales/new", data={**data, "price": "12.50", "refund": "101"}
        )
        assert bad_rule.status_code == 422 and "0 到 100" in text_of(bad_rule.text)
        too_big = {**data, "price": "12.50", "deposit": "12.50"}
        refused = await ops.post("/console/presales/new", data=too_big)
        assert refused.status_code == 422 and "定金：须大于 0 且低于预售价" in text_of(refused.text)
        assert "deposit_fen" not in text_of(refused.text)  # the API's words, said in Chinese
        created = await ops.post("/console/presales/new", data={**data, "price": "12.50"})
        assert created.status_code == 303, created.text
        sale_id = int(re.findall(r"/presales/(\d+)", created.headers["location"])[0])
        page = await ops.get(created.headers["location"])
        assert "已创建" in text_of(page.text) and '/watch" hx-trigger' in page.text
        assert "¥12.50" in text_of(page.text) and "¥2.00" in text_of(page.text)
        assert "退还定金的 50%" in text_of(page.text)
        shown_sku = page.text.split('id="presale-sku">')[1].split("</dd>")[0]
        assert code in shown_sku and shown_sku != str(sku)  # by code (and name), not its id
        async with stack.sessions() as session:
            sale = await session.get(Presale, sale_id)
        assert sale is not None
        assert (sale.price_fen, sale.deposit_fen, sale.forfeit_percent, sale.refund_percent) == (
            1250, 200, 100, 50,
        )  # fmt: skip
        assert abs(sale.balance_starts_at - (now + timedelta(hours=1))) < timedelta(seconds=1)

        paid = await buy_presale(api, sale_id, sku, customer_id=41, key="console-pre-41")
        unpaid = await buy_presale(api, sale_id, sku, customer_id=42, key="console-pre-42")
        assert paid.status_code == unpaid.status_code == 201, paid.text
        async with http(stack.payments) as provider:
            await pay_stage(api, provider, paid.json()["order_no"])
        await wait_step(api, paid.json()["order_no"], "deposit_paid")
        watched = (await ops.get(f"/console/presales/{sale_id}/watch")).text
        assert re.search(r'id="fig-orders">2<', watched)
        assert re.search(r'id="fig-awaiting">1<', watched)
        assert "1 · ¥2.00" in text_of(watched)  # one deposit, ¥2.00
        assert "付定金中" in text_of(watched)

        detail = f"/console/presales/{sale_id}"
        forged = await ops.post(f"{detail}/stop", data={"csrf": "forged", "reason": "x y"})
        assert forged.status_code == 403
        no_reason = await ops.post(f"{detail}/stop", data={"csrf": csrf_of(ops), "reason": ""})
        assert no_reason.status_code == 422 and "请填写原因" in text_of(no_reason.text)
        stopped = await ops.post(
            f"{detail}/stop", data={"csrf": csrf_of(ops), "reason": "供应商延期"}
        )
        assert stopped.status_code == 303
        page = await ops.get(stopped.headers["location"])
        assert "已停止：不再接新订单" in text_of(page.text)
        # Stopped, but its orders go on (one awaits its balance, one its deposit): the deposits
        # against balances still move, so the page keeps watching them.
        assert 'id="stop"' not in page.text and '/watch" hx-trigger' in page.text
        late = await buy_presale(api, sale_id, sku, customer_id=43, key="console-pre-43")
        assert late.status_code == 409, late.text
        for order in (paid, unpaid):
            order_no = order.json()["order_no"]
            cancel = await api.post(f"/v1/orders/{order_no}/cancel", json={}, headers=SHOP)
            assert cancel.status_code == 200, cancel.text
            await wait_cancelled(api, order_no)

        async def settled() -> str | None:
            watched = (await ops.get(f"/console/presales/{sale_id}/watch")).text
            done = re.search(r'id="fig-cancelled">1<', watched) and re.search(
                r'id="fig-forfeited">1 · ¥1.00<', watched
            )  # the paid one cancelled in the deposit phase: half its deposit kept
            return watched if done else None

        # Nothing left that can change: the live part stops polling.
        assert "hx-trigger" not in await eventually(settled, "both presale orders ended")
        page = await ops.get(f"/console/presales/{sale_id}")
        assert '/watch" hx-trigger' not in page.text

        listed = await ops.get("/console/presales", params={"status": "stopped"})
        assert f'data-presale="{sale_id}"' in listed.text
        active = await ops.get("/console/presales", params={"status": "active"})
        assert f'data-presale="{sale_id}"' not in active.text
        exported = await ops.get("/console/presales/export.csv", params={"status": "stopped"})
        rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
        mine = [r for r in rows[1:] if r[0] == str(sale_id)]
        assert len(mine) == 1 and len(rows) - 1 == len([r for r in rows[1:] if r[5] == "已停止"])
        assert mine[0][3:6] == ["¥12.50", "¥2.00", "已停止"]
        assert mine[0][9:] == ["100%", "50%"]
        xlsx = await ops.get("/console/presales/export.xlsx", params={"status": "stopped"})
        assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")

    async with browser(deps) as finance:
        await signed_in(finance, "finance")
        assert (await finance.get("/console/presales/new")).status_code == 403
        shown = await finance.get(f"/console/presales/{sale_id}")
        assert shown.status_code == 200 and 'id="stop"' not in shown.text
