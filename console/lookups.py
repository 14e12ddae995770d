"""Names of what a page shows by id, looked up in as few /v1 calls as the lists allow."""

from __future__ import annotations

from collections.abc import Iterable

from console.client import ApiClient

IDS_PER_CALL = 200  # GET /v1/skus takes up to 200 `ids`


async def sku_names(
    api: ApiClient, sku_ids: Iterable[int], *, with_code: bool = True
) -> dict[int, str]:
    """Each SKU's name ("name (code)" unless `with_code` is false); ids the API does not know
    are left out."""
    wanted = sorted(set(sku_ids))
    names: dict[int, str] = {}
    for start in range(0, len(wanted), IDS_PER_CALL):
        chunk = wanted[start : start + IDS_PER_CALL]
        found = await api.get("/v1/skus", {"ids": chunk, "limit": IDS_PER_CALL})
        for sku in found["data"]:
            name = str(sku["name"])
            names[int(sku["id"])] = f"{name} ({sku['code']})" if with_code else name
    return names
