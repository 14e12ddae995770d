"""The console's transfers (warehouse group): ops request SH01 → GZ01 with the form (by SKU
code), the source's manager approves on the page (a manager of the destination sees no
approval), the page watches the wave pick it, the manager ships it; the list filters and
exports exactly its rows; a forged post changes nothing."""

from __future__ import annotations

import csv
import io
import re

import httpx
from sqlalchemy import select

from api.deps import AppDeps
from models.db import Sku, Stock, UserWarehouse
from tests.support.api import PASSWORD, add_user
from tests.support.console import browser, csrf_of, sign_in, signed_in, text_of
from tests.support.order_api import DEVICE, skus_in, warehouse_id
from tests.support.stack import Stack
from tests.support.transfers import pick_transfer


async def _stock(stack: Stack, sku: int, warehouse: int) -> tuple[int, int, int]:
    async with stack.sessions() as session:
        row = await session.get(Stock, (sku, warehouse), populate_existing=True)
        return (row.on_hand, row.reserved, row.in_transit) if row else (0, 0, 0)


async def test_request_approve_watch_and_ship_a_transfer_in_the_console(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    sh, gz = await warehouse_id(stack, "SH01"), await warehouse_id(stack, "GZ01")
    [sku] = await skus_in(stack, "SH01")
    async with stack.sessions() as session:
        code = await session.scalar(select(Sku.code).where(Sku.id == sku))
    before_sh, before_gz = await _stock(stack, sku, sh), await _stock(stack, sku, gz)

    async with browser(deps) as ops:
        await signed_in(ops, "ops")
        form = await ops.get("/console/transfers/new")
        assert form.status_code == 200 and 'id="transfer-form"' in form.text
        data = {"csrf": csrf_of(ops), "from_warehouse_id": str(sh), "to_warehouse_id": str(gz),
                "sku_0": "NO-SUCH-SKU", "quantity_0": "2"}  # fmt: skip
        unknown = await ops.post("/console/transfers/new", data=data)
        assert unknown.status_code == 422 and "NO-SUCH-SKU" in text_of(unknown.text)
        created = await ops.post("/console/transfers/new", data={**data, "sku_0": code})
        assert created.status_code == 303, created.text
        number = re.findall(r"/transfers/(TR\d+)", created.headers["location"])[0]
        page = await ops.get(created.headers["location"])
        assert "已申请：调出仓库存已预占" in text_of(page.text)
        assert 'id="approve"' not in page.text  # ops may not approve
    assert await _stock(stack, sku, sh) == (before_sh[0], before_sh[1] + 2, before_sh[2])

    user = await add_user(stack.sessions, "gz-only", "warehouse_manager")
    async with stack.sessions() as session:
        session.add(UserWarehouse(user_id=user, warehouse_id=gz))
        await session.commit()
    async with browser(deps) as gz_manager:
        assert (await sign_in(gz_manager, "gz-only", PASSWORD)).status_code == 303
        shown = await gz_manager.get(f"/console/transfers/{number}")
        assert shown.status_code == 200 and 'id="approve"' not in shown.text

    async with browser(deps) as web:
        await signed_in(web, "warehouse_manager")
        detail = f"/console/transfers/{number}"
        forged = await web.post(f"{detail}/approve", data={"csrf": "forged"})
        assert forged.status_code == 403
        assert 'id="approve"' in (await web.get(detail)).text
        approved = await web.post(f"{detail}/approve", data={"csrf": csrf_of(web)})
        assert approved.status_code == 303
        page = await web.get(approved.headers["location"])
        assert (
            "已审批：已下发调出仓拣货" in text_of(page.text) and '/watch" hx-trigger' in page.text
        )
        outbound = await web.get("/console/outbound", params={"warehouse_id": str(sh)})
        assert f'href="/console/transfers/{number}"' in outbound.text  # waiting for a wave

        await pick_transfer(api, DEVICE["SH01"], sh, number)
        watched = await web.get(f"{detail}/watch")
        assert "已拣货" in text_of(watched.text) and "波次拣货完成" in text_of(watched.text)
        shipped = await web.post(f"{detail}/ship", data={"csrf": csrf_of(web)})
        assert shipped.status_code == 303
        page = await web.get(shipped.headers["location"])
        assert "已发出：调入仓在途" in text_of(page.text) and 'id="ship"' not in page.text
        assert await _stock(stack, sku, gz) == (before_gz[0], 0, before_gz[2] + 2)
        assert await _stock(stack, sku, sh) == (before_sh[0] - 2, before_sh[1], before_sh[2])

        listed = await web.get("/console/transfers", params={"status": "in_transit"})
        assert number in listed.text
        none = await web.get("/console/transfers", params={"status": "closed"})
        assert number not in none.text
        exported = await web.get("/console/transfers/export.csv", params={"status": "in_transit"})
        rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
        assert [r[0] for r in rows[1:]] == [number] and rows[1][3] == "在途"
        note = await web.get(f"{detail}/note.pdf")
        assert note.status_code == 200 and note.content.startswith(b"%PDF")

    async with browser(deps) as finance:
        await signed_in(finance, "finance")
        assert (await finance.get("/console/transfers/new")).status_code == 403
