"""The putaway tasks page (warehouse part): a receipt booked with no location waits in receiving
as one task per line; the page lists them under its filters, exports exactly the filtered rows,
prints the putaway list, and the stock page says how many units wait for putaway (待上架).
People without stock.move see neither the menu entry nor the page."""

from __future__ import annotations

import csv
import io
import re

import httpx

from api.deps import AppDeps
from tests.support.console import browser, signed_in, text_of
from tests.support.order_api import staff
from tests.support.purchasing import approved_po, sent
from tests.support.stack import Stack


async def test_tasks_of_a_receipt_are_listed_filtered_exported_and_printed(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    po, skus, sh01 = await approved_po(stack, api, (10, 4))
    po_no = po["po_no"]
    await sent(api, po_no, await staff(api, "purchasing"))
    manager = await staff(api, "warehouse_manager")
    lines = [
        {"line_no": n, "sku_id": sku, "received": q, "accepted": q, "batch_no": "B1",
         "production_date": "2026-11-01", "expiry_date": "2027-11-01"}
        for n, (sku, q) in enumerate(zip(skus, (10, 4), strict=True), start=1)
    ]  # fmt: skip
    receipt = {"receipt_key": "console-putaway-1", "warehouse_id": sh01, "lines": lines}
    booked = await api.post(f"/v1/purchase-orders/{po_no}/receipts", json=receipt, headers=manager)
    assert booked.status_code == 201, booked.text
    receipt_no = booked.json()["receipt_no"]
    tasks = (
        await api.get("/v1/putaway-tasks", params={"source_no": receipt_no}, headers=manager)
    ).json()["data"]
    assert sorted((t["sku_id"], t["quantity"], t["from_location_code"]) for t in tasks) == sorted(
        [(skus[0], 10, "RCV-01"), (skus[1], 4, "RCV-01")]
    )

    async with browser(deps) as web:
        await signed_in(web, "warehouse_manager")
        home = await web.get("/console/")
        assert 'href="/console/putaway"' in home.text
        page = await web.get(
            "/console/putaway",
            params={"warehouse_id": sh01, "status": "open", "source_no": receipt_no},
        )
        assert page.status_code == 200 and "上架任务" in text_of(page.text)
        shown = re.findall(r'<tr data-task="(PA\d+)">', page.text)
        assert sorted(shown) == sorted(t["task_no"] for t in tasks)
        assert "共 2 条" in text_of(page.text) and "采购收货" in text_of(page.text)
        done = await web.get("/console/putaway", params={"status": "done", "source_no": receipt_no})
        assert re.findall(r'<tr data-task="', done.text) == []
        fragment = await web.get(
            "/console/putaway", params={"source_no": receipt_no}, headers={"HX-Request": "true"}
        )
        assert "<html" not in fragment.text and 'id="row-count"' in fragment.text

        exported = await web.get(
            "/console/putaway/export.csv", params={"status": "open", "source_no": receipt_no}
        )
        rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
        assert rows[0][:3] == ["任务号", "仓库", "商品"]
        assert sorted((r[0], r[7]) for r in rows[1:]) == sorted(
            (t["task_no"], str(t["quantity"])) for t in tasks
        )
        xlsx = await web.get("/console/putaway/export.xlsx", params={"source_no": receipt_no})
        assert xlsx.status_code == 200 and xlsx.content.startswith(b"PK")

        pdf = await web.get(f"/console/putaway/{sh01}/putaway-list.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert f'href="/console/putaway/{sh01}/putaway-list.pdf"' in page.text

        stock = await web.get("/console/stock", params={"warehouse_id": sh01})
        waiting = re.search(
            rf'<tr data-stock="{skus[1]}/{sh01}">.*?class="num awaiting-putaway"><a[^>]*>(\d+)<',
            stock.text,
            re.S,
        )
        assert waiting and int(waiting.group(1)) >= 4

    async with browser(deps) as web:
        await signed_in(web, "cs")
        assert 'href="/console/putaway"' not in (await web.get("/console/")).text
        assert (await web.get("/console/putaway")).status_code == 403
