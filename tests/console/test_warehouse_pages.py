"""The console's warehouse part for every built-in staff role and for a warehouse manager
limited to one warehouse: what each role may see renders, what it may not is the 403 page, and
the limited manager sees nothing of the other warehouse — in pages, fragments and exports."""

from __future__ import annotations

import csv
import io
import re

import httpx
import openpyxl
from sqlalchemy import select

from api.deps import AppDeps
from models.db import Location, Stock, UserWarehouse
from models.domain.access import allowed
from tests.support.api import PASSWORD, add_user
from tests.support.console import STAFF_ROLES, browser, csrf_of, sign_in, signed_in
from tests.support.order_api import only_in, paid_order, skus_in, staff, warehouse_id
from tests.support.picking import plan_now
from tests.support.stack import Stack


async def _pages(stack: Stack, api: httpx.AsyncClient) -> list[tuple[str, str, str]]:
    """(path, the permission it needs, a text the page shows when allowed); a wave and a
    stock count exist so their pages can be shown."""
    sh01, gz01 = await warehouse_id(stack, "SH01"), await warehouse_id(stack, "GZ01")
    [sku] = await skus_in(stack, "SH01")
    await paid_order(stack, api, [(await only_in(stack, "SH01"), 1)], key="every-role-wave")
    [wave] = await plan_now(api, sh01)
    manager = await staff(api, "warehouse_manager")  # not admin: its one-time code is the page's
    task_no = await api.get(f"/v1/waves/{wave['wave_no']}", headers=manager)
    async with stack.sessions() as session:
        location = await session.scalar(
            select(Location.id).where(Location.warehouse_id == sh01).limit(1)
        )
    count = await api.post(
        f"/v1/warehouses/{sh01}/counts", json={"location_ids": [location]}, headers=manager
    )
    assert count.status_code == 201, count.text
    [task] = task_no.json()["tasks"]
    return [
        (f"/console/waves/{wave['wave_no']}", "waves.read", "拣货进度"),
        (f"/console/waves/{wave['wave_no']}/progress", "waves.read", "拣货进度"),
        (
            f"/console/waves/{wave['wave_no']}/tasks/{task['task_no']}/pick-list.pdf",
            "waves.read",
            "%PDF",
        ),
        (f"/console/counts/{count.json()['count_no']}", "stock.read", "盘点中"),
        (f"/console/counts/{count.json()['count_no']}/count-sheet.pdf", "stock.read", "%PDF"),
        (f"/console/outbound?warehouse_id={sh01}", "waves.read", wave["wave_no"]),
        ("/console/warehouses", "warehouse.read", "GZ01"),
        (f"/console/warehouses/{sh01}", "warehouse.read", "库位"),
        (f"/console/warehouses/{gz01}", "warehouse.read", "广州仓"),
        ("/console/stock", "stock.read", "可售"),
        (f"/console/stock/{sku}/{sh01}", "stock.read", "库位与批次"),
        ("/console/stock/movements", "stock.read", "期初"),
        (f"/console/stock/batches?warehouse_id={sh01}", "stock.read", "库位批次库存"),
        ("/console/stock/batches/export.xlsx", "stock.read", "PK"),
        ("/console/counts", "stock.read", "盘点单"),
        ("/console/waves", "waves.read", "波次"),
        ("/console/outbound", "waves.read", "出库单"),
        ("/console/packages", "packages.read", "包裹"),
        ("/console/tracking-ranges", "tracking.read", "运单号段"),
        ("/console/stock/export.csv", "stock.read", "SKU"),
        ("/console/waves/export.csv", "waves.read", "波次号"),
    ]


async def test_every_warehouse_page_for_every_staff_role(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    pages = await _pages(stack, api)
    for role in STAFF_ROLES:
        async with browser(deps) as web:
            await signed_in(web, role)
            home = await web.get("/console/")
            for menu, permission in (
                ("/console/warehouses", "warehouse.read"),
                ("/console/waves", "waves.read"),
                ("/console/tracking-ranges", "tracking.read"),
            ):
                shown = f'href="{menu}"' in home.text
                assert shown == allowed(frozenset({role}), permission), (role, menu)
            for path, permission, words in pages:
                answer = await web.get(path)
                if allowed(frozenset({role}), permission):
                    assert answer.status_code == 200, (role, path, answer.text[:500])
                    assert words in answer.text, (role, path)
                    assert "Traceback" not in answer.text
                else:
                    assert answer.status_code == 403, (role, path)
                    assert "无权访问" in answer.text, (role, path)


async def test_a_manager_limited_to_sh01_sees_nothing_of_gz01(stack: Stack, deps: AppDeps) -> None:
    sh01, gz01 = await warehouse_id(stack, "SH01"), await warehouse_id(stack, "GZ01")
    async with stack.sessions() as session:
        [gz_sku] = (
            await session.scalars(
                select(Stock.sku_id).where(Stock.warehouse_id == gz01, Stock.on_hand > 0).limit(1)
            )
        ).all()
        gz_location = await session.scalar(
            select(Location.id).where(Location.warehouse_id == gz01).limit(1)
        )
    user = await add_user(deps.session_factory, "sh01-boss", "warehouse_manager")
    async with deps.session_factory() as session:
        session.add(UserWarehouse(user_id=user, warehouse_id=sh01))
        await session.commit()

    async with browser(deps) as web:
        answer = await sign_in(web, "sh01-boss", PASSWORD)
        assert answer.status_code == 303, answer.text

        listing = await web.get("/console/warehouses")
        assert "SH01" in listing.text and "GZ01" not in listing.text
        for path in ("/console/stock", "/console/stock/movements", "/console/stock/batches"):
            page = await web.get(path)
            assert page.status_code == 200, page.text
            shown = set(re.findall(r'href="/console/stock/\d+/(\d+)"', page.text))
            assert shown == {str(sh01)}, (path, shown)
            assert "广州仓" not in page.text, path
        fragment = await web.get("/console/stock", headers={"HX-Request": "true"})
        assert set(re.findall(r'data-stock="\d+/(\d+)"', fragment.text)) == {str(sh01)}
        exported = await web.get("/console/stock/export.csv")
        rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))[1:]
        assert rows and {r[1] for r in rows} == {str(sh01)}
        book = openpyxl.load_workbook(
            io.BytesIO((await web.get("/console/stock/movements/export.xlsx")).content)
        )
        cells = list(book.active.iter_rows(min_row=2, values_only=True))  # type: ignore[union-attr]
        assert cells and {c[3] for c in cells} == {str(sh01)}
        counts = await web.get("/console/counts")
        assert f'<option value="{gz01}"' not in counts.text

        for path in (
            f"/console/warehouses/{gz01}",
            f"/console/stock/{gz_sku}/{gz01}",
            f"/console/stock?warehouse_id={gz01}",
            f"/console/stock/movements?warehouse_id={gz01}",
            f"/console/stock/batches?warehouse_id={gz01}",
            f"/console/stock/batches/export.csv?warehouse_id={gz01}",
            f"/console/stock/export.csv?warehouse_id={gz01}",
            f"/console/counts?warehouse_id={gz01}",
            f"/console/waves?warehouse_id={gz01}",
            f"/console/outbound?warehouse_id={gz01}",
            f"/console/packages?warehouse_id={gz01}",
        ):
            refused = await web.get(path)
            assert refused.status_code == 403, (path, refused.status_code)
            assert "无权访问" in refused.text and "广州仓" not in refused.text, path

        # Acting on the other warehouse is refused, and its stock does not move.
        before = await _on_hand(stack, gz_sku, gz01)
        refused = await web.post(
            f"/console/stock/{gz_sku}/{gz01}/adjust",
            data={
                "csrf": csrf_of(web),
                "location_id": str(gz_location),
                "quantity_delta": "5",
                "reason": "越权",
            },
        )
        assert refused.status_code == 403
        assert await _on_hand(stack, gz_sku, gz01) == before
        plan = await web.post(
            "/console/waves/plan", data={"csrf": csrf_of(web), "warehouse_id": str(gz01)}
        )
        assert plan.status_code == 403


async def _on_hand(stack: Stack, sku: int, warehouse: int) -> int:
    async with stack.sessions() as session:
        stock = await session.get(Stock, (sku, warehouse), populate_existing=True)
        assert stock is not None
        return stock.on_hand


async def test_filters_pages_and_exports_hold_exactly_the_filtered_rows(
    stack: Stack, deps: AppDeps
) -> None:
    sh01 = await warehouse_id(stack, "SH01")
    async with browser(deps) as web:
        await signed_in(web, "warehouse_manager")
        page = await web.get("/console/stock")
        assert int(re.findall(r"共 (\d+) 条", page.text)[0]) > 50  # more than a page
        assert 'rel="next"' in page.text and "第 1 / " in page.text
        second = await web.get("/console/stock", params={"page": 2})
        first_rows = re.findall(r'data-stock="([\d/]+)"', page.text)
        second_rows = re.findall(r'data-stock="([\d/]+)"', second.text)
        assert len(first_rows) == 50 and second_rows and not set(first_rows) & set(second_rows)
        filtered = await web.get("/console/stock", params={"warehouse_id": sh01})
        count = int(re.findall(r"共 (\d+) 条", filtered.text)[0])
        assert 0 < count < int(re.findall(r"共 (\d+) 条", page.text)[0])
        exported = await web.get(
            "/console/stock/export.csv", params={"warehouse_id": sh01, "sort": "-on_hand"}
        )
        rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
        assert rows[0][:3] == ["SKU", "仓库", "在库"]
        assert len(rows) - 1 == count
        on_hand = [int(r[2]) for r in rows[1:]]
        assert on_hand == sorted(on_hand, reverse=True)

        typed = await web.get(
            "/console/stock/movements", params={"movement_type": "opening_balance"}
        )
        kinds = re.findall(r'<tr data-movement="\d+">\s*<td>[^<]*</td><td>([^<]*)</td>', typed.text)
        assert kinds and set(kinds) == {"期初"}
        bad = await web.get("/console/stock", params={"warehouse_id": "x", "sort": "nope"})
        assert bad.status_code == 200
        assert "无效的筛选条件：warehouse_id" in bad.text
        assert "无效的筛选条件：sort" in bad.text

        for path in ("/console/warehouses", "/console/stock", "/console/stock/batches",
                     "/console/stock/movements", "/console/waves", "/console/outbound",
                     "/console/packages"):  # fmt: skip
            fragment = await web.get(
                path, params={"warehouse_id": sh01, "page": 2}, headers={"HX-Request": "true"}
            )
            assert fragment.status_code == 200, path
            assert "<html" not in fragment.text and 'id="row-count"' in fragment.text, path
            pushed = fragment.headers["HX-Push-Url"]
            assert pushed.startswith(path) and "page=2" in pushed, (path, pushed)

        web.cookies.set("houtai_lang", "en")
        english = await web.get("/console/stock", params={"warehouse_id": sh01})
        assert "Sellable" in english.text and f"{count} rows" in english.text
        assert "可售" not in english.text
