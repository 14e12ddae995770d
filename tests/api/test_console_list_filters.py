"""What the console's catalog and admin pages needed from the API: SKU list sort and active
filter, audit-log `until` and `client_ip` filters, and the freight quote of a cart (nothing
stored; the same pricing function orders use)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.api.conftest import Ref
from tests.support.api import CLIENT_IP, Headers, MakeHeaders


async def _codes(client: httpx.AsyncClient, headers: Headers, **params: str) -> list[str]:
    answer = await client.get("/v1/skus", params=params, headers=headers)
    assert answer.status_code == 200, answer.text
    return [s["code"] for s in answer.json()["data"]]


async def test_skus_sort_and_filter_by_active(
    client: httpx.AsyncClient, user_headers: MakeHeaders, ref: Ref, batch_sku: int
) -> None:
    ops = await user_headers("ops")
    assert await _codes(client, ops, sort="-list_price_fen") == ["P1-500", "P1-MILK"]  # 99 > 12.9
    assert await _codes(client, ops, sort="list_price_fen") == ["P1-MILK", "P1-500"]
    assert await _codes(client, ops, sort="-id") == ["P1-MILK", "P1-500"]
    off = await client.patch(f"/v1/skus/{batch_sku}", json={"active": False}, headers=ops)
    assert off.status_code == 200
    assert await _codes(client, ops, active="false") == ["P1-MILK"]
    assert await _codes(client, ops, active="true") == ["P1-500"]
    bogus = await client.get("/v1/skus", params={"sort": "weight_g"}, headers=ops)
    assert bogus.status_code == 422


async def test_the_audit_log_filters_by_address_and_until(
    client: httpx.AsyncClient, user_headers: MakeHeaders
) -> None:
    admin = await user_headers("admin")
    made = await client.post("/v1/brands", json={"name": "审计牌"}, headers=admin)
    assert made.status_code == 201

    async def count(**params: str) -> int:
        answer = await client.get(
            "/v1/admin/audit-log", params={"action": "brand.create", **params}, headers=admin
        )
        assert answer.status_code == 200, answer.text
        return int(answer.json()["count"])

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert await count(client_ip=CLIENT_IP) == 1
    assert await count(client_ip="192.0.2.1") == 0
    assert await count(until=tomorrow) == 1
    assert await count(until="2020-01-01T00:00:00+00:00") == 0


async def test_a_freight_quote_prices_a_cart_and_names_what_it_refuses(
    client: httpx.AsyncClient, user_headers: MakeHeaders, ref: Ref
) -> None:
    ops = await user_headers("ops")
    cart = {"region_code": "310101", "lines": [{"sku_id": ref.sku_id, "quantity": 3}]}
    no_template = await client.post("/v1/freight-quote", json=cart, headers=ops)
    assert no_template.status_code == 422
    assert [e["field"] for e in no_template.json()["errors"]] == ["lines"]

    template = await client.post(
        "/v1/freight-templates",
        json={"code": "KG", "name": "按重", "charge_by": "weight",
              "unserviceable_regions": ["650000"],
              "rules": [{"regions": ["310000"], "first_units": 1000, "first_price_fen": 600,
                         "additional_units": 500, "additional_price_fen": 150},
                        {"is_default": True, "first_units": 1000, "first_price_fen": 1000,
                         "additional_units": 1000, "additional_price_fen": 500}]},
        headers=ops,
    )  # fmt: skip
    assert template.status_code == 201, template.text
    linked = await client.patch(
        f"/v1/skus/{ref.sku_id}", json={"freight_template_id": template.json()["id"]}, headers=ops
    )
    assert linked.status_code == 200

    quote = await client.post("/v1/freight-quote", json=cart, headers=ops)
    assert quote.status_code == 200, quote.text
    # 3 × 520 g = 1560 g to Shanghai: ¥6.00 for the first kg, 560 g more = 2 blocks × ¥1.50.
    assert quote.json()["freight_fen"] == 900
    assert quote.json()["templates"][0]["units"] == 1560

    far = await client.post(
        "/v1/freight-quote", json={**cart, "region_code": "650102"}, headers=ops
    )
    assert far.status_code == 422
    assert [e["field"] for e in far.json()["errors"]] == ["region_code"]
    manager = await client.post(
        "/v1/freight-quote", json=cart, headers=await user_headers("warehouse_manager")
    )
    assert manager.status_code == 200  # every staff role may read freight
