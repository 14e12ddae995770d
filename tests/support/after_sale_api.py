"""Shared pieces of the whole-stack after-sale route tests: a delivered order, opening an
after-sale on it as the storefront, and reading its projection once it shows a status."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.order_api import Json, paid_order, view
from tests.support.orders import SHOP, deliver, eventually, pack_and_hand_over
from tests.support.stack import Stack


async def delivered(
    stack: Stack,
    api: httpx.AsyncClient,
    carrier: httpx.AsyncClient,
    lines: list[tuple[int, int]],
    key: str = "cart-1",
) -> Json:
    """Place, pay, pick, pack, hand over and deliver an order of one package."""
    order = await paid_order(stack, api, lines, key=key)
    [parcel] = order["packages"]
    await deliver(carrier, await pack_and_hand_over(api, parcel))

    async def arrived() -> Json | None:
        shown = await view(api, order["order_no"])
        return shown if shown["status"] == "delivered" else None

    found: Json = await eventually(arrived, "order delivered")
    return found


async def open_after_sale(
    api: httpx.AsyncClient,
    order_no: str,
    key: str,
    type_: str,
    lines: list[tuple[int, int]],
    reason: str = "质量问题",
) -> str:
    """Ask for an after-sale of (line_no, quantity) pairs; its number once it is projected."""
    body = {
        "client_request_key": key,
        "type": type_,
        "lines": [{"line_no": no, "quantity": quantity} for no, quantity in lines],
        "reason": reason,
    }
    opened = await api.post(f"/v1/orders/{order_no}/after-sales", headers=SHOP, json=body)
    assert opened.status_code == 201, opened.text
    as_no = str(opened.json()["as_no"])
    await shown_as(api, as_no, "requested")
    return as_no


async def shown_as(
    api: httpx.AsyncClient, as_no: str, status: str, headers: dict[str, str] = SHOP
) -> Json:
    """The after-sale's projection once it shows `status`."""

    async def reached() -> Json | None:
        answer = await api.get(f"/v1/after-sales/{as_no}", headers=headers)
        found: Json = answer.json() if answer.status_code == 200 else {}
        return found if found.get("status") == status else None

    found: Json = await eventually(reached, f"{as_no} {status}")
    return found


def numbers(page: dict[str, Any]) -> list[str]:
    return [row["as_no"] for row in page["data"]]
