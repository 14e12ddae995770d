"""Labelled packages (waybill_created) to scan onto carrier manifests."""

from __future__ import annotations

import httpx

from tests.support.order_api import DEVICE, Json, only_in, package_row, paid_order, wait_package
from tests.support.picking import pick_package
from tests.support.stack import Stack


async def labelled(stack: Stack, api: httpx.AsyncClient, count: int, key: str) -> list[Json]:
    """`count` single-unit packages of warehouse SH01, picked, packed at their expected weight
    and labelled: their views with `carrier_code` and `warehouse_id` added."""
    sku = await only_in(stack, "SH01")
    parcels = [
        (await paid_order(stack, api, [(sku, 1)], key=f"{key}-{i}"))["packages"][0]
        for i in range(count)
    ]
    found: list[Json] = []
    for parcel in parcels:
        shown = await pick_package(api, parcel)
        number = parcel["package_no"]
        if shown["status"] == "picked":
            packed = await api.post(
                f"/v1/packages/{number}/pack",
                headers=DEVICE["SH01"],
                json={"measured_weight_g": shown["expected_weight_g"]},
            )
            assert packed.status_code == 200, packed.text
    for parcel in parcels:
        view = await wait_package(api, parcel["package_no"], "waybill_created", DEVICE["SH01"])
        row = await package_row(stack, parcel["package_no"])
        found.append(view | {"carrier_code": row.carrier_code, "warehouse_id": row.warehouse_id})
    return found
