"""The global search box: a business number opens the page that shows it (an `SO…` order; a
`PK…` package opens its order)."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from console.client import ApiClient, NotFound
from console.pages import SignedIn, render

router = APIRouter()
_NUMBER = re.compile(r"^(SO|PK)[0-9]{6,30}$")


async def order_of(api: ApiClient, number: str) -> str:
    """The order a business number belongs to (raises NotFound)."""
    if number.startswith("PK"):
        return str((await api.get(f"/v1/packages/{number}"))["order_no"])
    await api.get(f"/v1/orders/{number}")
    return number


@router.get("/search")
async def search(request: Request, viewer: SignedIn, q: str = "") -> Response:
    number = q.strip().upper()
    if not _NUMBER.match(number):
        return render(
            request, "search.html", viewer=viewer, status=404, message="search.unknown_kind", q=q
        )
    viewer.require("packages.read" if number.startswith("PK") else "orders.read")
    try:
        order_no = await order_of(viewer.api, number)
    except NotFound:
        return render(
            request, "search.html", viewer=viewer, status=404, message="search.not_found", q=q
        )
    root = str(request.scope.get("root_path", ""))
    return RedirectResponse(f"{root}/orders/{order_no}", status_code=303)
