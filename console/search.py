"""The global search box: a business number opens the page that shows it — an order (`SO…`,
or one of its packages `PK…` or their carrier tracking numbers), an after-sale (`AS…`), a
purchase order (`PO…`), a wave (`WV…`), or a SKU's stock by its barcode."""

from __future__ import annotations

import re
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from console.client import ApiClient, NotFound
from console.pages import SignedIn, Viewer, render

router = APIRouter()
_PREFIXED: Final = re.compile(r"^(SO|PK|AS|PO|WV)[0-9A-Z]{6,30}$")
# A barcode or a carrier's tracking number: letters, digits and dashes, with digits among them.
_CODE: Final = re.compile(r"^(?=.*[0-9])[0-9A-Za-z-]{4,64}$")

# prefix -> (permission, API path, console page), {n} the number
_PAGES: Final = {
    "SO": ("orders.read", "/v1/orders/{n}", "/orders/{n}"),
    "AS": ("aftersales.read", "/v1/after-sales/{n}", "/after-sales/{n}"),
    "PO": ("purchase.read", "/v1/purchase-orders/{n}", "/purchase-orders/{n}"),
    "WV": ("waves.read", "/v1/waves/{n}", "/waves/{n}"),
}


async def order_of(api: ApiClient, number: str) -> str:
    """The order a business number belongs to (raises NotFound)."""
    if number.startswith("PK"):
        return str((await api.get(f"/v1/packages/{number}"))["order_no"])
    await api.get(f"/v1/orders/{number}")
    return number


async def _page_of_code(viewer: Viewer, code: str) -> str | None:
    """A SKU's barcode opens its stock; a tracking number opens its package's order."""
    if viewer.can("catalog.read") and viewer.can("stock.read"):
        skus = await viewer.api.get("/v1/skus", {"barcode": code, "limit": 1})
        if skus["data"]:
            return f"/stock?sku_id={skus['data'][0]['id']}"
    if viewer.can("packages.read") and viewer.can("orders.read"):
        packages = await viewer.api.get("/v1/packages", {"tracking_no": code, "limit": 1})
        if packages["data"]:
            return f"/orders/{packages['data'][0]['order_no']}"
    return None


async def _page_of_number(viewer: Viewer, number: str) -> str:
    """The page of a prefixed number (403 without the permission; raises NotFound)."""
    if number.startswith("PK"):
        viewer.require("packages.read")
        return f"/orders/{await order_of(viewer.api, number)}"
    permission, api_path, page = _PAGES[number[:2]]
    viewer.require(permission)
    await viewer.api.get(api_path.format(n=number))
    return page.format(n=number)


@router.get("/search")
async def search(request: Request, viewer: SignedIn, q: str = "") -> Response:
    typed = q.strip()
    number = typed.upper()
    try:
        if _PREFIXED.match(number):
            page: str | None = await _page_of_number(viewer, number)
        elif _CODE.match(typed):
            page = await _page_of_code(viewer, typed)
        else:
            return _not_found(request, viewer, q, "search.unknown_kind")
    except NotFound:
        page = None
    if page is None:
        return _not_found(request, viewer, q, "search.not_found")
    root = str(request.scope.get("root_path", ""))
    return RedirectResponse(f"{root}{page}", status_code=303)


def _not_found(request: Request, viewer: Viewer, q: str, message: str) -> Response:
    return render(request, "search.html", viewer=viewer, status=404, message=message, q=q)
