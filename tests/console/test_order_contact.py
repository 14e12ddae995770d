"""An order's contact in the console: masked for staff, revealed in full on request to those
with pii.read, and every reveal audited as the person."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from api.deps import AppDeps
from models.db import AuditEntry
from tests.support.console import BROWSER_IP, browser, csrf_of, signed_in, text_of
from tests.support.order_api import lines_of, order_body, place_order, skus_in
from tests.support.orders import ADDRESS
from tests.support.stack import Stack

REVEAL = "显示完整联系方式"


async def reveal_rows(stack: Stack, number: str) -> list[AuditEntry]:
    async with stack.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "order.reveal_contact", AuditEntry.object_id == number)
            .order_by(AuditEntry.id)
        )
        return list(rows)


async def test_cs_sees_the_contact_masked_and_reveals_it_once_audited(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    number = (await place_order(api, order_body(lines_of((sku, 1)), key="contact")))["order_no"]

    async with browser(deps) as web:
        await signed_in(web, "cs")
        page = await web.get(f"/console/orders/{number}")
        assert page.status_code == 200, page.text
        shown = text_of(page.text)
        assert ADDRESS["phone"] not in shown and ADDRESS["detail"] not in shown
        assert "138****0000" in shown
        assert REVEAL in shown
        assert await reveal_rows(stack, number) == []  # looking at the page reveals nothing

        forged = await web.post(f"/console/orders/{number}/reveal", data={"csrf": "x" * 43})
        assert forged.status_code == 403
        assert await reveal_rows(stack, number) == []

        revealed = await web.post(
            f"/console/orders/{number}/reveal",
            data={"csrf": csrf_of(web)},
            headers={"HX-Request": "true"},
        )
        assert revealed.status_code == 200, revealed.text
        full = text_of(revealed.text)
        assert ADDRESS["phone"] in full and ADDRESS["name"] in full and ADDRESS["detail"] in full
        assert REVEAL not in full  # shown once: no second button on the revealed contact
        again = text_of((await web.get(f"/console/orders/{number}")).text)
        assert ADDRESS["phone"] not in again  # masked again on the next view

    [row] = await reveal_rows(stack, number)
    assert (row.actor_type, row.actor_name, row.client_ip) == ("user", "cs", BROWSER_IP)
    assert row.object_type == "order"


async def test_a_role_without_pii_read_has_no_reveal_and_is_refused(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    number = (await place_order(api, order_body(lines_of((sku, 1)), key="hidden")))["order_no"]

    async with browser(deps) as web:
        await signed_in(web, "ops")
        page = await web.get(f"/console/orders/{number}")
        assert page.status_code == 200, page.text
        assert "138****0000" in text_of(page.text)
        assert REVEAL not in text_of(page.text)
        assert "/reveal" not in page.text
        refused = await web.post(f"/console/orders/{number}/reveal", data={"csrf": csrf_of(web)})
        assert refused.status_code == 403
        assert "无权访问" in refused.text
        assert ADDRESS["phone"] not in refused.text
    assert await reveal_rows(stack, number) == []
