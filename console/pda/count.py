"""Blind stock counting (盲盘) on the handheld: pick an open count of the device's warehouse (or
scan its number), then location by location scan the location, scan each unit's SKU (one scan,
one unit; or type a quantity), the batch when the SKU is batch-managed, and "location done". The
screen never shows a book (expected) quantity: the API gives a device none, only what was
counted. Every scan is an entry keyed by the screen's id, so a resent scan counts once."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from console.client import ApiClient, Forbidden, Json, NotFound, Refused
from console.pda.common import Csrf, DeviceApi, ScanIdField, back, page, scanned_location, whoami
from console.security import check_csrf

router = APIRouter()

COUNT_ERRORS: Final = frozenset(
    {"no_count", "closed", "location", "sku", "quantity", "batch", "refused"}
)
COUNT_MESSAGES: Final = COUNT_ERRORS | {"counted", "location_done"}
MOST_AT_ONCE: Final = 100_000


@router.get("/count", response_class=HTMLResponse)
async def count_start(request: Request, api: DeviceApi, msg: str | None = None) -> Response:
    """The open counts of this warehouse to choose from, or scan a count sheet's number."""
    me = await whoami(api)
    path = f"/v1/warehouses/{me['warehouse_id']}/counts"
    counts = (await api.get(path, {"status": "counting", "limit": 20}))["data"]
    msg = msg if msg in COUNT_ERRORS else None
    return page(
        request,
        "pda/count_start.html",
        device=me,
        counts=counts,
        msg=msg,
        result="error" if msg else None,
    )


@router.post("/count")
async def count_find(
    request: Request, api: DeviceApi, csrf: Csrf = "", code: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(request, csrf)
    number = code.strip()
    if not number or not number.isalnum() or len(number) > 40:
        return back(request, "/count", msg="no_count")
    return back(request, f"/count/{number}")


async def _count(api: ApiClient, count_no: str) -> Json | None:
    try:
        return await api.get(f"/v1/counts/{count_no}")
    except (NotFound, Forbidden, Refused):
        return None


async def _locations(api: ApiClient, warehouse_id: int, ids: list[int]) -> dict[int, Json]:
    """The count's locations (code, barcode) by id."""
    wanted, found = set(ids), dict[int, Json]()
    for skip in range(0, 5000, 500):
        path = f"/v1/warehouses/{warehouse_id}/locations"
        rows = (await api.get(path, {"skip": skip, "limit": 500}))["data"]
        found |= {int(x["id"]): x for x in rows if int(x["id"]) in wanted}
        if len(rows) < 500 or len(found) == len(wanted):
            break
    return found


async def _counted_here(api: ApiClient, count: Json, location_id: int) -> list[Json]:
    """What was counted at the location so far (never the book), with the SKU's code and name."""
    shown = []
    for row in count["counted"]:
        if row["location_id"] == location_id:
            sku = await api.get(f"/v1/skus/{row['sku_id']}")
            shown.append({**row, "sku": sku})
    return shown


@router.get("/count/{count_no}", response_class=HTMLResponse)
async def count_page(
    request: Request,
    count_no: str,
    api: DeviceApi,
    loc: str | None = None,
    msg: str | None = None,
    ok: bool | None = None,
    batch: str | None = None,
    done: str | None = None,
) -> Response:
    """Without `loc`: the count's locations and the units counted at each, scan a location.
    With `loc` (a scanned location of the count): scan SKUs there, then "location done"."""
    me = await whoami(api)
    count = await _count(api, count_no)
    if count is None:
        return back(request, "/count", msg="no_count")
    if count["status"] != "counting":
        return back(request, "/count", msg="closed")
    locations = await _locations(api, int(me["warehouse_id"]), count["location_ids"])
    result = None if ok is None else ("ok" if ok else "error")
    msg = msg if msg in COUNT_MESSAGES else None
    here = None
    if loc is not None:
        code = loc.strip()
        here = next((x for x in locations.values() if code in (x["barcode"], x["code"])), None)
        if here is None:
            result, msg = "error", "location"
    units = {
        loc_id: sum(r["quantity"] for r in count["counted"] if r["location_id"] == loc_id)
        for loc_id in locations
    }
    return page(
        request,
        "pda/count.html",
        device=me,
        count=count,
        locations=[locations[i] for i in count["location_ids"] if i in locations],
        units=units,
        at=here,
        counted=await _counted_here(api, count, int(here["id"])) if here else [],
        batch=(batch or "")[:40],
        done=(done or "")[:64],
        result=result,
        msg=msg,
    )


async def _only_batch(api: ApiClient, sku_id: int, location_id: int) -> str:
    """A SKU not batch-managed counts into the one batch the location keeps it in (a return's
    batch, a receipt's), else the batch without a number."""
    where = {"sku_id": sku_id, "location_id": location_id, "limit": 50}
    rows = (await api.get("/v1/stock/batches", where))["data"]
    batches = {b["batch_no"] for b in rows if b["quantity"] > 0}
    return batches.pop() if len(batches) == 1 else ""


def _quantity(text: str) -> int | None:
    """Units of one scan: 1 when left empty (one scan, one unit), else the number typed."""
    text = text.strip() or "1"
    return int(text) if text.isdigit() and 0 < int(text) <= MOST_AT_ONCE else None


@router.post("/count/{count_no}")
async def count_scan(
    request: Request,
    count_no: str,
    api: DeviceApi,
    scan_id: ScanIdField,
    csrf: Csrf = "",
    location: Annotated[str, Form()] = "",
    sku: Annotated[str, Form()] = "",
    quantity: Annotated[str, Form()] = "",
    batch: Annotated[str, Form()] = "",
) -> Response:
    """One scan at a location of the count: its id is the entry's key, so a scan sent again
    (a lost answer) counts once."""
    check_csrf(request, csrf)
    me = await whoami(api)
    here = f"/count/{count_no}"
    place, batch_no = location.strip(), batch.strip()[:40]
    location_id = await scanned_location(api, int(me["warehouse_id"]), place)
    count = await _count(api, count_no)
    if count is None:
        return back(request, "/count", msg="no_count")
    if location_id is None or location_id not in count["location_ids"]:
        return back(request, here, ok=False, msg="location")
    keep = {"loc": place, "batch": batch_no or None}
    code = sku.strip()
    skus = (await api.get("/v1/skus", {"barcode": code, "limit": 1}))["data"] if code else []
    units = _quantity(quantity)
    problem = None
    if not skus:
        problem = "sku"
    elif units is None:
        problem = "quantity"
    elif skus[0]["batch_managed"] and not batch_no:
        problem = "batch"
    if problem or units is None:
        return back(request, here, ok=False, msg=problem or "quantity", **keep)
    entry = {
        "entry_key": scan_id,
        "location_id": location_id,
        "sku_id": int(skus[0]["id"]),
        "batch_no": batch_no or await _only_batch(api, int(skus[0]["id"]), location_id),
        "quantity": units,
    }
    try:
        await api.post(f"/v1/counts/{count_no}/entries", {"entries": [entry]})
    except Refused:
        return back(request, here, ok=False, msg="refused", **keep)
    return back(request, here, ok=True, msg="counted", **keep)
