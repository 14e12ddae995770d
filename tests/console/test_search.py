"""The search box on every page: each kind of business number opens the page that shows it
(an order by its number, a package or its tracking number; a purchase order; a SKU's stock by
its barcode), a number the person may not see answers the 403 page, an unknown one says so."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from api.deps import AppDeps
from tests.support.console import browser, signed_in, text_of
from tests.support.order_api import lines_of, order_body, place_order, skus_in
from tests.support.purchasing import approved_po
from tests.support.stack import Stack


async def test_each_kind_of_number_opens_its_page(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    order = await place_order(api, order_body(lines_of((sku, 1)), key="search-kinds"))
    number = order["order_no"]
    [package] = order["packages"]
    po, _, _ = await approved_po(stack, api)
    async with stack.sessions() as session:  # as the carrier's waybill would set it
        await session.execute(
            text("UPDATE packages SET tracking_no = 'SF1234567890' WHERE package_no = :p"),
            {"p": package["package_no"]},
        )
        barcode = await session.scalar(text("SELECT barcode FROM skus WHERE id = :s"), {"s": sku})
        await session.commit()
    assert barcode

    async with browser(deps) as web:
        await signed_in(web, "admin")
        for typed, page in (
            (number.lower(), f"/console/orders/{number}"),
            (package["package_no"], f"/console/orders/{number}"),
            ("SF1234567890", f"/console/orders/{number}"),
            (po["po_no"], f"/console/purchase-orders/{po['po_no']}"),
            (barcode, f"/console/stock?sku_id={sku}"),
        ):
            found = await web.get("/console/search", params={"q": typed})
            assert found.status_code == 303, (typed, found.text)
            assert found.headers["location"] == page, typed
            opened = await web.get(page)
            assert opened.status_code == 200, page

        missing = await web.get("/console/search", params={"q": "AS20260101000001"})
        assert missing.status_code == 404 and "没有找到" in text_of(missing.text)
        unknown = await web.get("/console/search", params={"q": "<b>?"})
        assert unknown.status_code == 404 and "无法识别" in text_of(unknown.text)
        assert "<b>?" not in unknown.text  # shown as text

    async with browser(deps) as web:
        await signed_in(web, "cs")  # customer service may not read purchase orders
        refused = await web.get("/console/search", params={"q": po["po_no"]})
        assert refused.status_code == 403
