"""Looking up stock on the handheld: scan a location's barcode → what is there (SKU, batch,
units); scan a SKU's barcode → where it is in this warehouse. A location being counted shows
no quantity (the count is blind), only what is kept there."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from console.client import ApiClient, Json
from console.pda.common import DeviceApi, page, scanned_location, whoami

router = APIRouter()
MOST_ROWS = 100


async def _being_counted(api: ApiClient, warehouse_id: int) -> set[int]:
    """The locations of this warehouse's open counts: their quantities are not shown."""
    path = f"/v1/warehouses/{warehouse_id}/counts"
    counts = (await api.get(path, {"status": "counting", "limit": 50}))["data"]
    found: set[int] = set()
    for count in counts:
        found |= set((await api.get(f"/v1/counts/{count['count_no']}"))["location_ids"])
    return found


async def _rows(api: ApiClient, where: Json) -> list[Json]:
    batches = (await api.get("/v1/stock/batches", {**where, "limit": MOST_ROWS}))["data"]
    return [b for b in batches if b["quantity"] > 0]


@router.get("/lookup", response_class=HTMLResponse)
async def lookup(request: Request, api: DeviceApi, code: str | None = None) -> Response:
    """One input: a location's barcode or a SKU's barcode, and what the stock says about it."""
    me = await whoami(api)
    warehouse_id = int(me["warehouse_id"])
    scanned = (code or "").strip()[:64]
    context: Json = {"code": scanned, "location": None, "sku": None, "rows": []}
    result = None
    if scanned:
        counted = await _being_counted(api, warehouse_id)
        location_id = await scanned_location(api, warehouse_id, scanned)
        skus = [] if location_id else (
            await api.get("/v1/skus", {"barcode": scanned, "limit": 1})
        )["data"]  # fmt: skip
        if location_id is not None:
            context["location"] = await api.get(f"/v1/locations/{location_id}")
            rows = await _rows(api, {"warehouse_id": warehouse_id, "location_id": location_id})
            context["rows"] = [
                {
                    **r,
                    "sku": await api.get(f"/v1/skus/{r['sku_id']}"),
                    "blind": r["location_id"] in counted,
                }
                for r in rows
            ]
            context["blind"] = location_id in counted
        elif skus:
            context["sku"] = skus[0]
            rows = await _rows(api, {"warehouse_id": warehouse_id, "sku_id": int(skus[0]["id"])})
            context["rows"] = [
                {
                    **r,
                    "where": await api.get(f"/v1/locations/{r['location_id']}"),
                    "blind": r["location_id"] in counted,
                }
                for r in rows
            ]
        result = "ok" if context["location"] or context["sku"] else "error"
    return page(request, "pda/lookup.html", device=me, result=result, **context)
