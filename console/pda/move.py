"""Moving stock between locations (移库): scan from, SKU, quantity, scan to."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from console.client import ApiClient, Refused
from console.pda.common import Csrf, DeviceApi, ScanIdField, back, page, scanned_location, whoami
from console.security import check_csrf

router = APIRouter()


# --- moving stock between locations (移库) -------------------------------------------------


@router.get("/move", response_class=HTMLResponse)
async def move_page(
    request: Request, api: DeviceApi, msg: str | None = None, ok: bool | None = None
) -> Response:
    """Scan the location the units are at, the SKU, type the quantity, scan where they go."""
    me = await whoami(api)
    result = None if ok is None else ("ok" if ok else "error")
    return page(request, "pda/move.html", device=me, result=result, msg=msg)


async def _batch_no(api: ApiClient, sku_id: int, location_id: int, batch_no: str) -> str | None:
    """The batch to move: the one scanned, else the only movable one at the location."""
    where = {"sku_id": sku_id, "location_id": location_id, "limit": 50}
    batches = (await api.get("/v1/stock/batches", where))["data"]
    movable = [b["batch_no"] for b in batches if not b["disabled"] and b["quantity"] > 0]
    if batch_no:
        return batch_no if batch_no in movable else None
    return movable[0] if len(movable) == 1 else None


@router.post("/move")
async def move(
    request: Request,
    api: DeviceApi,
    scan_id: ScanIdField,
    csrf: Csrf = "",
    source: Annotated[str, Form()] = "",
    sku: Annotated[str, Form()] = "",
    quantity: Annotated[str, Form()] = "",
    target: Annotated[str, Form()] = "",
    batch_no: Annotated[str, Form()] = "",
) -> Response:
    """The move, by the screen's id: sent twice (a lost answer), the units move once."""
    check_csrf(request, csrf)
    me = await whoami(api)
    warehouse_id = int(me["warehouse_id"])
    from_id = await scanned_location(api, warehouse_id, source.strip())
    to_id = await scanned_location(api, warehouse_id, target.strip())
    if from_id is None or to_id is None:
        return back(request, "/move", ok=False, msg="move_location")
    code = sku.strip()
    skus = (await api.get("/v1/skus", {"barcode": code, "limit": 1}))["data"] if code else []
    if not skus:
        return back(request, "/move", ok=False, msg="move_sku")
    if not (quantity.strip().isdigit() and 0 < int(quantity.strip()) <= 10**9):
        return back(request, "/move", ok=False, msg="move_quantity")
    batch = await _batch_no(api, int(skus[0]["id"]), from_id, batch_no.strip())
    if batch is None:
        return back(request, "/move", ok=False, msg="move_batch")
    body = {
        "move_id": scan_id,
        "sku_id": int(skus[0]["id"]),
        "warehouse_id": warehouse_id,
        "from_location_id": from_id,
        "to_location_id": to_id,
        "quantity": int(quantity.strip()),
        "batch_no": batch,
    }
    try:
        await api.post("/v1/stock/moves", body)
    except Refused:
        return back(request, "/move", ok=False, msg="move_refused")
    return back(request, "/move", ok=True, msg="moved")
