"""What the console's forms have in common to read: a SKU named by code, barcode or id, a
time typed in a datetime-local field (Asia/Shanghai), and an id in a page's address."""

from __future__ import annotations

from datetime import datetime

from console.client import NotFound
from console.pages import Viewer
from models.domain.business_day import BUSINESS_TZ


async def sku_named(viewer: Viewer, text: str) -> int | None:
    """The SKU a code, barcode or id names (exactly), else None."""
    text = text.strip()
    if not text:
        return None
    for params in ({"barcode": text[:64]}, {"q": text[:100]}):
        found = await viewer.api.get("/v1/skus", {**params, "limit": 20})
        exact = [s for s in found["data"] if text in (s["code"], s["barcode"], str(s["id"]))]
        if exact:
            return int(exact[0]["id"])
    if text.isdigit() and int(text) < 2**31:
        try:
            return int((await viewer.api.get(f"/v1/skus/{text}"))["id"])
        except NotFound:
            return None
    return None


def local_time(text: str) -> str | None:
    """`2026-12-12T20:00` as typed in a datetime-local field, in Asia/Shanghai, as ISO text with
    its offset; None for anything else."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is not None or not 2000 <= moment.year <= 9999:
        return None
    return moment.replace(tzinfo=BUSINESS_TZ).isoformat()


def path_id(text: str) -> int:
    """An id from the page's address; anything else is a page that does not exist."""
    if not text.isdigit() or not 0 < int(text) < 2**31:
        raise NotFound
    return int(text)
