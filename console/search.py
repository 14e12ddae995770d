"""The global search box: a business number opens its document."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from console.client import NotFound
from console.pages import SignedIn, render

router = APIRouter()


@router.get("/search")
async def search(request: Request, viewer: SignedIn, q: str = "") -> Response:
    number = q.strip().upper()
    root = str(request.scope.get("root_path", ""))
    if number.startswith("SO") and number[2:].isdigit():
        viewer.require("orders.read")
        try:
            await viewer.api.get(f"/v1/orders/{number}")
        except NotFound:
            return render(
                request, "search.html", viewer=viewer, status=404, message="search.not_found", q=q
            )
        return RedirectResponse(f"{root}/orders/{number}", status_code=303)
    return render(
        request, "search.html", viewer=viewer, status=404, message="search.unknown_kind", q=q
    )
