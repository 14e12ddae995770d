"""工作台: what the person can act on, from counts the list endpoints already give."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.client import ApiClient
from console.pages import SignedIn, render

router = APIRouter()
# Order counts shown as tiles: (catalogue key, filters of GET /v1/orders).
ORDER_TILES: tuple[tuple[str, dict[str, str]], ...] = (
    ("dashboard.total", {}),
    ("status.awaiting_payment", {"status": "awaiting_payment"}),
    ("status.paid", {"status": "paid"}),
    ("status.fulfilling", {"status": "fulfilling"}),
    ("dashboard.escalated", {"escalated": "true"}),
    ("dashboard.refund_refused", {"refund_refused": "true"}),
)


@dataclass(frozen=True)
class Tile:
    label: str
    count: int
    query: str


async def order_tiles(api: ApiClient) -> list[Tile]:
    tiles = []
    for label, filters in ORDER_TILES:
        page = await api.get("/v1/orders", {**filters, "limit": 1})
        query = "&".join(f"{k}={v}" for k, v in filters.items())
        tiles.append(Tile(label, int(page["count"]), query))
    return tiles


@router.get("/", response_class=HTMLResponse)
async def dashboard(request: Request, viewer: SignedIn) -> Response:
    viewer.require("self.read")
    tiles = await order_tiles(viewer.api) if viewer.can("orders.read") else []
    return render(request, "dashboard/index.html", viewer=viewer, tiles=tiles)
