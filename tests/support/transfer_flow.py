"""A transfer SH01 → GZ01 brought to in transit over /v1 (requested by ops, approved and
shipped by the manager, picked by SH01's device), for the screens that receive it."""

from __future__ import annotations

import httpx

from tests.support.order_api import DEVICE, skus_in, staff, warehouse_id
from tests.support.stack import Stack
from tests.support.transfers import pick_transfer, request_transfer


async def in_transit(
    stack: Stack, api: httpx.AsyncClient, quantity: int, key: str
) -> tuple[str, int, int, int]:
    """(transfer number, SKU, SH01's id, GZ01's id)."""
    sh, gz = await warehouse_id(stack, "SH01"), await warehouse_id(stack, "GZ01")
    [sku] = await skus_in(stack, "SH01")
    asked = await request_transfer(
        api, sh, gz, [(sku, quantity)], await staff(api, "ops"), request_key=key
    )
    assert asked.status_code == 201, asked.text
    number = asked.json()["transfer_no"]
    manager = await staff(api, "warehouse_manager")
    approved = await api.post(f"/v1/transfers/{number}/approve", headers=manager)
    assert approved.status_code == 200, approved.text
    await pick_transfer(api, DEVICE["SH01"], sh, number)
    shipped = await api.post(f"/v1/transfers/{number}/ship", headers=manager)
    assert shipped.status_code == 200, shipped.text
    return number, sku, sh, gz
