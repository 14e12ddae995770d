"""GET /v1/stock/value: stock value by warehouse and SKU (on hand, moving average cost, value
in fen) with its filters, and the adjustment route moving value at the current average."""

from __future__ import annotations

from typing import Any

import httpx

from core.db import SessionFactory
from models.db import Sku
from services.stock_ledger import BatchRef, Document, move_on_hand
from tests.api.conftest import Ref
from tests.api.stock_helpers import adjust, body, figures
from tests.support.api import Headers, MakeHeaders


async def _receive(
    session_factory: SessionFactory, sku: int, warehouse: int, location: int, n: int, fen: int
) -> None:
    async with session_factory() as session:
        await move_on_hand(session, movement_type="purchase_in", sku_id=sku,
                           warehouse_id=warehouse, batch=BatchRef(location), quantity=n,
                           unit_cost_fen=fen, doc=Document("purchase_receipt", f"RC-{sku}-{n}",
                           "user:buyer", "", f"rc:{sku}:{warehouse}:{n}"))  # fmt: skip
        await session.commit()


async def test_stock_value_by_warehouse_and_sku_with_filters(
    client: httpx.AsyncClient,
    admin: Headers,
    ref: Ref,
    session_factory: SessionFactory,
    user_headers: MakeHeaders,
) -> None:
    async with session_factory() as session:
        other = Sku(spu_id=ref.product_id, code="P1-250", name="坚果礼盒 250g",
                    barcode="6900000000031", weight_g=260, volume_cm3=1500,
                    list_price_fen=5900)  # fmt: skip
        session.add(other)
        await session.commit()
        other_id = other.id
    sh, gz = ref.warehouse_id, ref.other_warehouse_id
    await _receive(session_factory, ref.sku_id, sh, ref.location_id, 10, 300)
    await _receive(session_factory, ref.sku_id, sh, ref.location_id, 5, 451)  # 15 worth 5255
    await _receive(session_factory, ref.sku_id, gz, ref.other_location_id, 4, 1000)
    await _receive(session_factory, other_id, sh, ref.location_id, 3, 777)
    # A counted loss of 2 through the route: out at the average, floor(5255 × 2 / 15) = 700.
    assert (await adjust(client, admin, body(ref, ref.sku_id, -2))).status_code == 201
    assert await figures(session_factory, ref.sku_id, sh) == (13, 0, 0)  # invariants checked

    async def get(**params: object) -> Any:
        answer = await client.get("/v1/stock/value", params=params, headers=admin)
        assert answer.status_code == 200, answer.text
        return answer.json()

    everything = await get()
    rows = {(r["sku_id"], r["warehouse_id"]): r for r in everything["data"]}
    assert {k: (r["on_hand"], r["unit_cost_fen"], r["value_fen"]) for k, r in rows.items()} == {
        (ref.sku_id, sh): (13, 4555 // 13, 4555),
        (ref.sku_id, gz): (4, 1000, 4000),
        (other_id, sh): (3, 777, 2331),
    }
    assert everything["total_value_fen"] == 4555 + 4000 + 2331
    in_gz = await get(warehouse_id=gz)
    assert [(r["sku_id"], r["value_fen"]) for r in in_gz["data"]] == [(ref.sku_id, 4000)]
    assert in_gz["total_value_fen"] == 4000
    by_name = await get(q="250g")
    assert [r["sku_id"] for r in by_name["data"]] == [other_id]
    by_value = await get(sort="-value_fen", limit=2)
    assert [r["value_fen"] for r in by_value["data"]] == [4555, 4000]
    assert (by_value["count"], by_value["total_value_fen"]) == (3, 4555 + 4000 + 2331)

    # Sold out in GZ01: worth nothing, and left out unless asked for.
    sold_out = body(ref, ref.sku_id, -4, warehouse_id=gz, location_id=ref.other_location_id)
    assert (await adjust(client, admin, sold_out)).status_code == 201
    assert [r["warehouse_id"] for r in (await get(sku_id=ref.sku_id))["data"]] == [sh]
    every = await get(sku_id=ref.sku_id, in_stock="false")
    assert {(r["warehouse_id"], r["on_hand"], r["value_fen"]) for r in every["data"]} == {
        (sh, 13, 4555),
        (gz, 0, 0),
    }

    # Read like the stock list: any staff role; bad filters refused.
    ops = await user_headers("ops")
    assert (await client.get("/v1/stock/value", headers=ops)).status_code == 200
    assert (await client.get("/v1/stock/value")).status_code == 401
    for bad in ({"sort": "cost"}, {"warehouse_id": 0}, {"q": "x" * 201}):
        answer = await client.get("/v1/stock/value", params=bad, headers=admin)
        assert answer.status_code == 422, bad
