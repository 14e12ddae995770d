"""The 工作台 page for every staff role: the panels GET /v1/dashboard opens for the role, its
figures as the API counted them, the charts' data for order readers only, in either language."""

from __future__ import annotations

import html
import json
import re

import httpx

from api.deps import AppDeps
from models.domain.access import allowed
from tests.support.console import STAFF_ROLES, browser, signed_in, text_of
from tests.support.order_api import lines_of, order_body, place_order, skus_in
from tests.support.stack import Stack

PANELS = {
    "dashboard.orders": "orders.read",
    "dashboard.after_sales": "aftersales.review",
    "dashboard.purchasing": "purchase.read",
    "dashboard.finance": "finance.read",
}


async def test_every_role_sees_its_panels_with_the_apis_figures(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    await place_order(api, order_body(lines_of((sku, 1)), key="dash-console"))
    for role in STAFF_ROLES:
        async with browser(deps) as web:
            await signed_in(web, role)
            home = await web.get("/console/")
            assert home.status_code == 200, (role, home.text)
            for panel, permission in PANELS.items():
                shown = f'data-panel="{panel}"' in home.text
                assert shown == allowed(frozenset({role}), permission), (role, panel)
            charts = re.findall(r'data-chart="([^"]+)"', home.text)
            assert len(charts) == (2 if allowed(frozenset({role}), "orders.read") else 0), role
            if charts:
                hourly = json.loads(html.unescape(charts[0]))
                assert hourly["title"] == "今日与昨日每小时订单数"
                assert sum(hourly["series"][0]["values"]) == 1  # the order placed above
                page = text_of(home.text)
                assert "今日订单 1 昨日 0" in page
                assert "待付款 1 " in page

            english = await web.get("/console/lang/en", params={"next": "/console/"})
            assert english.status_code == 303
            home_en = await web.get("/console/")
            assert "Dashboard" in home_en.text and "工作台" not in text_of(home_en.text)


async def test_every_tile_link_opens_a_list_page(stack: Stack, deps: AppDeps) -> None:
    async with browser(deps) as web:
        await signed_in(web, "admin")
        home = await web.get("/console/")
        links = re.findall(r'<li class="tile"[^>]*><a href="([^"]+)"', home.text)
        assert len(links) >= 10, links
        for link in links:
            opened = await web.get(html.unescape(link))
            assert opened.status_code == 200, link
            assert "无法识别的筛选" not in opened.text and 'role="alert"' not in opened.text, link
