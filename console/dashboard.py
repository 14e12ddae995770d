"""工作台: what the person can act on, from counts the list endpoints already give (one
`limit=1` call per figure), in the sections their permissions open."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.client import ApiClient
from console.pages import MenuItem, SignedIn, Viewer, render

router = APIRouter()
MENU = (MenuItem("nav.dashboard", "/", "self.read"),)


@dataclass(frozen=True)
class Section:
    title: str  # catalogue key
    permission: str  # what the list endpoint requires
    endpoint: str
    page: str | None  # the console's list page for the figures (None: not built yet)
    figures: tuple[tuple[str, dict[str, str]], ...]  # (catalogue key, filters)


SECTIONS: tuple[Section, ...] = (
    Section(
        "dashboard.orders",
        "orders.read",
        "/v1/orders",
        "/orders",
        (
            ("dashboard.total", {}),
            ("status.awaiting_payment", {"status": "awaiting_payment"}),
            ("status.paid", {"status": "paid"}),
            ("status.fulfilling", {"status": "fulfilling"}),
            ("dashboard.escalated", {"escalated": "true"}),
            ("dashboard.refund_refused", {"refund_refused": "true"}),
        ),
    ),
    Section(
        "dashboard.after_sales",
        "aftersales.review",
        "/v1/after-sales",
        None,
        (
            ("dashboard.after_sales.requested", {"status": "requested"}),
            ("dashboard.after_sales.overdue", {"overdue": "true"}),
        ),
    ),
    Section(
        "dashboard.purchasing",
        "purchase.read",
        "/v1/purchase-orders",
        None,
        (
            ("dashboard.purchasing.pending_approval", {"status": "pending_approval"}),
            ("dashboard.escalated", {"escalated": "true"}),
        ),
    ),
)


@dataclass(frozen=True)
class Tile:
    label: str
    count: int
    link: str | None  # path under the console's root


@dataclass(frozen=True)
class Panel:
    title: str
    tiles: list[Tile]


async def panel(api: ApiClient, section: Section) -> Panel:
    tiles = []
    for label, filters in section.figures:
        page = await api.get(section.endpoint, {**filters, "limit": 1})
        query = urlencode(filters)
        link = section.page and (f"{section.page}?{query}" if query else section.page)
        tiles.append(Tile(label, int(page["count"]), link or None))
    return Panel(section.title, tiles)


async def panels(viewer: Viewer) -> list[Panel]:
    return [await panel(viewer.api, s) for s in SECTIONS if viewer.can(s.permission)]


@router.get("/", response_class=HTMLResponse)
async def dashboard(request: Request, viewer: SignedIn) -> Response:
    viewer.require("self.read")
    return render(request, "dashboard/index.html", viewer=viewer, panels=await panels(viewer))
