"""An exchange for another variant over HTTP (issue 6 item 8): the customer sends back the colour
or size that did not fit and gets another variant of the same product at the same price; it
ships through the normal wave and shipment path. A SKU of another product or another price is
refused (422) before anything starts."""

from __future__ import annotations

import httpx
from sqlalchemy import select, text

from models.db import PackageLine
from tests.support.after_sale_api import delivered
from tests.support.order_api import DEVICE, Json, figures, problem, staff, view
from tests.support.orders import SHOP, customer_parcel, deliver, eventually, pack_and_hand_over
from tests.support.stack import Stack

# Two active variants of one product at one price, both with stock in SH01 (a Shanghai order
# ships from there, its return comes back there, the replacement leaves from there).
VARIANTS = """
    SELECT a.id, b.id, w.id FROM skus a JOIN skus b ON b.spu_id = a.spu_id AND b.id > a.id
    JOIN warehouses w ON w.code = 'SH01'
    JOIN stocks sa ON sa.sku_id = a.id AND sa.warehouse_id = w.id
    JOIN stocks sb ON sb.sku_id = b.id AND sb.warehouse_id = w.id
    WHERE a.active AND b.active AND a.list_price_fen = b.list_price_fen
      AND NOT a.batch_managed AND NOT b.batch_managed
      AND sa.on_hand - sa.reserved - sa.safety_hold >= 10
      AND sb.on_hand - sb.reserved - sb.safety_hold >= 10
    ORDER BY a.id LIMIT 1"""
OTHER_PRODUCT = (
    "SELECT id FROM skus WHERE spu_id <> (SELECT spu_id FROM skus WHERE id = :a) LIMIT 1"
)


async def test_an_exchange_ships_another_variant_of_the_same_product(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    async with stack.sessions() as session:
        row = (await session.execute(text(VARIANTS))).first()
        assert row is not None, "the demo data has no two stocked variants at one price"
        bought, wanted, sh01 = int(row[0]), int(row[1]), int(row[2])
        stranger = int(await session.scalar(text(OTHER_PRODUCT), {"a": bought}) or 0)
    order = await delivered(stack, api, carrier, [(bought, 1)])
    number, line_no = order["order_no"], order["lines"][0]["line_no"]
    assert [p["warehouse_id"] for p in order["packages"]] == [sh01]
    before = await figures(stack)

    def asking(sku: int, kind: str = "exchange") -> Json:
        return {
            "client_request_key": f"ex-{sku}-{kind}",
            "type": kind,
            "lines": [{"line_no": line_no, "quantity": 1, "replacement_sku_id": sku}],
            "reason": "颜色不喜欢",
        }

    url = f"/v1/orders/{number}/after-sales"
    refused = problem(await api.post(url, headers=SHOP, json=asking(stranger)), 422)
    assert "no variant" in refused["detail"]
    problem(await api.post(url, headers=SHOP, json=asking(wanted, "refund_only")), 422)
    opened = await api.post(url, headers=SHOP, json=asking(wanted))
    assert opened.status_code == 201, opened.text
    as_no = opened.json()["as_no"]
    path = f"/v1/after-sales/{as_no}"

    async def status(wanted_status: str) -> Json | None:
        answer = await api.get(path, headers=SHOP)
        found: Json = answer.json()
        return found if answer.status_code == 200 and found["status"] == wanted_status else None

    await eventually(lambda: status("requested"), "projected")
    cs = await staff(api, "cs")
    assert (
        await api.post(f"{path}/decision", headers=cs, json={"approve": True})
    ).status_code == 200
    await eventually(lambda: status("awaiting_return"), "waiting for the return")
    back = {"carrier_code": "SF", "tracking_no": await customer_parcel(carrier)}
    assert (await api.post(f"{path}/return-shipment", headers=SHOP, json=back)).status_code == 200
    inbound = {"lines": [{"line_no": line_no, "sellable": 1, "damaged": 0}]}
    assert (
        await api.post(f"{path}/inbound", headers=DEVICE["SH01"], json=inbound)
    ).status_code == 200
    await eventually(lambda: status("exchanged"), "replacement released")

    replacement = f"PK{as_no[2:]}X"
    async with stack.sessions() as session:
        boxed = (
            await session.execute(
                select(PackageLine.sku_id, PackageLine.quantity).where(
                    PackageLine.package_no == replacement
                )
            )
        ).all()
    assert [tuple(r) for r in boxed] == [(wanted, 1)]

    async def released() -> Json | None:
        shown = await view(api, number)
        found = [p for p in shown["packages"] if p["package_no"] == replacement]
        return found[0] if found and found[0]["status"] == "released" else None

    await deliver(carrier, await pack_and_hand_over(api, await eventually(released, "released")))
    after = await figures(stack)
    for sku, change in ((bought, +1), (wanted, -1)):  # one back on the shelf, one out
        key = (sku, sh01)
        assert after[key] == (before[key][0] + change, before[key][1]), sku
    assert (await view(api, number))["refunded_fen"] == 0
