"""A 422 says which input is wrong in words and in a code with the limits it states, so a
client (the console) can say it in its own language: pydantic's own kinds for the schema's
bounds, and the routes' own for their checks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.support.order_api import order_body, problem, skus_in, staff, warehouse_id
from tests.support.orders import SHOP, known_customer
from tests.support.stack import Stack


async def test_an_invalid_input_carries_its_kind_and_limits(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    [sku, *_] = await skus_in(stack, "SH01")
    await known_customer(api, 4301)
    none = order_body([{"sku_id": sku, "quantity": 0}], key="codes-1", customer_id=4301)
    refused = problem(await api.post("/v1/orders", json=none, headers=SHOP), 422)
    assert refused["errors"] == [
        {"field": "lines.0.quantity", "message": "Input should be greater than 0",
         "code": "greater_than", "ctx": {"gt": 0}},
    ]  # fmt: skip

    ops = await staff(api, "ops")
    starts = datetime.now(UTC) + timedelta(hours=1)
    sale = {
        "name": "限购太多", "sku_id": sku, "warehouse_id": await warehouse_id(stack, "SH01"),
        "price_fen": 1, "quantity": 2, "per_customer_limit": 3,
        "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=1)).isoformat(),
    }  # fmt: skip
    refused = problem(await api.post("/v1/flash-sales", json=sale, headers=ops), 422)
    assert refused["errors"] == [
        {"field": "per_customer_limit", "message": "must not exceed quantity",
         "code": "limit_over_quantity"},
    ]  # fmt: skip
    unknown = {**sale, "per_customer_limit": 1, "sku_id": 987_654}
    refused = problem(await api.post("/v1/flash-sales", json=unknown, headers=ops), 422)
    assert [(e["code"], e["ctx"]) for e in refused["errors"]] == [
        ("unknown_sku", {"sku_id": 987_654})
    ]
