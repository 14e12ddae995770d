"""An exchange's replacement is one of the order's packages (issue 13 item 1), over HTTP on the
whole back office: once the customer sent the unit back and the replacement is released, a
refund-only request for that unit takes it out of the replacement before it is picked —
approved at once, refunded by its allocated amount (with the freight, when it is the order's
last unit), the replacement cancelled and its stock released — instead of going to customer
service while the replacement still ships."""

from __future__ import annotations

import httpx

from tests.support.after_sale_api import delivered
from tests.support.order_api import DEVICE, Json, figures, only_in, refunds, staff, view
from tests.support.orders import SHOP, customer_parcel, eventually
from tests.support.stack import Stack


async def test_a_refund_only_before_the_replacement_ships_takes_the_unit_out_of_it(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    sku = await only_in(stack, "SH01")
    order = await delivered(stack, api, carrier, [(sku, 1)])
    number, line = order["order_no"], order["lines"][0]
    url = f"/v1/orders/{number}/after-sales"

    def asking(key: str, kind: str) -> Json:
        return {
            "client_request_key": key,
            "type": kind,
            "lines": [{"line_no": line["line_no"], "quantity": 1}],
            "reason": "尺码不合适",
        }

    opened = await api.post(url, headers=SHOP, json=asking("ex-1", "exchange"))
    assert opened.status_code == 201, opened.text
    as_no = opened.json()["as_no"]
    path = f"/v1/after-sales/{as_no}"
    cs = await staff(api, "cs")

    async def status(number_: str, wanted: str) -> Json | None:
        answer = await api.get(f"/v1/after-sales/{number_}", headers=cs)
        found: Json = answer.json()
        return found if answer.status_code == 200 and found["status"] == wanted else None

    await eventually(lambda: status(as_no, "requested"), "projected")
    decided = await api.post(f"{path}/decision", headers=cs, json={"approve": True})
    assert decided.status_code == 200, decided.text
    await eventually(lambda: status(as_no, "awaiting_return"), "waiting for the return")
    back = {"carrier_code": "SF", "tracking_no": await customer_parcel(carrier)}
    assert (await api.post(f"{path}/return-shipment", headers=SHOP, json=back)).status_code == 200
    inbound = {"lines": [{"line_no": line["line_no"], "sellable": 1, "damaged": 0}]}
    received = await api.post(f"{path}/inbound", headers=DEVICE["SH01"], json=inbound)
    assert received.status_code == 200, received.text
    await eventually(lambda: status(as_no, "exchanged"), "replacement released")
    replacement = f"PK{as_no[2:]}X"

    async def released() -> Json | None:
        shown = await api.get(f"/v1/packages/{replacement}", headers=cs)
        found: Json = shown.json()
        return found if shown.status_code == 200 and found["status"] == "released" else None

    await eventually(released, "replacement released to its warehouse")
    before = await figures(stack)

    taken = await api.post(url, headers=SHOP, json=asking("ro-1", "refund_only"))
    assert taken.status_code == 201, taken.text
    refund_only = taken.json()
    assert refund_only["sla_due_at"] is None  # it never left the warehouse: approved at once
    # The last unit of the order: its paid value and the freight (models/domain/refunds.py).
    everything = order["payable_fen"]
    assert refund_only["refund_fen"] == everything > line["paid_fen"]
    done = await eventually(lambda: status(refund_only["as_no"], "refunded"), "refunded")
    assert done["decided_by"] == "system:after-sale"

    async def cancelled() -> Json | None:
        shown = await api.get(f"/v1/packages/{replacement}", headers=cs)
        found: Json = shown.json()
        return found if found["status"] == "cancelled" else None

    await eventually(cancelled, "the emptied replacement cancelled")
    key = next(k for k in before if k[0] == sku)
    on_hand, reserved = before[key]
    assert (await figures(stack))[key] == (on_hand, reserved - 1)  # the unit is free again
    mine = [r for r in await refunds(stack, number) if r.refund_no == f"RF{refund_only['as_no']}"]
    assert [r.amount_fen for r in mine] == [everything]
    assert (await view(api, number))["refunded_fen"] == everything
