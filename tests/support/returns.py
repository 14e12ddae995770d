"""A return on its way back (退货): a delivered order of SH01, the customer's after-sale of two
units approved, the parcel sent back with the sandbox carrier; the warehouse receives it next."""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from tests.support.after_sale_api import delivered, open_after_sale, shown_as
from tests.support.order_api import Json, only_in, staff
from tests.support.orders import SHOP, customer_parcel
from tests.support.stack import Stack


@dataclass(frozen=True)
class Returning:
    order: Json
    as_no: str
    tracking_no: str
    line: Json  # the order line two of whose three units come back


async def returning(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient, key: str = "ret"
) -> Returning:
    order = await delivered(stack, api, carrier, [(await only_in(stack, "SH01"), 3)], key=key)
    line = order["lines"][0]
    as_no = await open_after_sale(
        api, order["order_no"], key, "return_and_refund", [(line["line_no"], 2)]
    )
    cs = await staff(api, "cs")
    decided = await api.post(
        f"/v1/after-sales/{as_no}/decision", headers=cs, json={"approve": True}
    )
    assert decided.status_code == 200, decided.text
    await shown_as(api, as_no, "awaiting_return")
    back = {"carrier_code": "SF", "tracking_no": await customer_parcel(carrier)}
    shipped = await api.post(f"/v1/after-sales/{as_no}/return-shipment", headers=SHOP, json=back)
    assert shipped.status_code == 200, shipped.text
    assert shipped.json()["status"] == "returning"
    return Returning(order=order, as_no=as_no, tracking_no=back["tracking_no"], line=line)
