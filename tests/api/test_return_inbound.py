"""Returns received by the warehouse's handheld (退货入库, issue 15): a device of the receiving
warehouse finds the return by the tracking number of the parcel sent back (or its after-sale
number), sees what comes back without any amount, and receives it with its own key: sent
again, the answer is the same and nothing is received twice. Staff find it by tracking number
in the after-sales list."""

from __future__ import annotations

import httpx
from sqlalchemy import text

from tests.support.order_api import DEVICE, staff
from tests.support.orders import eventually
from tests.support.returns import returning
from tests.support.stack import Stack


async def _return_in_rows(stack: Stack, as_no: str) -> list[int]:
    async with stack.sessions() as session:
        rows = await session.scalars(
            text(
                "SELECT on_hand_delta FROM stock_movements WHERE ref_no = :a "
                "AND movement_type = 'return_in' ORDER BY id"
            ),
            {"a": as_no},
        )
        return list(rows.all())


async def test_a_device_finds_a_return_by_tracking_number_and_receives_it_once(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    back = await returning(stack, api, carrier, key="pda-ret")
    sh01, gz01 = DEVICE["SH01"], DEVICE["GZ01"]
    warehouse = back.order["packages"][0]["warehouse_id"]
    path = f"/v1/warehouses/{warehouse}/returns"

    found = await api.get(path, params={"code": back.tracking_no}, headers=sh01)
    assert found.status_code == 200, found.text
    [shown] = found.json()["data"]
    assert (shown["as_no"], shown["status"], shown["return_tracking_no"]) == (
        back.as_no,
        "returning",
        back.tracking_no,
    )
    assert [(x["line_no"], x["quantity"]) for x in shown["lines"]] == [(back.line["line_no"], 2)]
    assert "refund_fen" not in shown and "amount_fen" not in shown["lines"][0]
    by_number = await api.get(path, params={"code": back.as_no}, headers=sh01)
    assert [x["as_no"] for x in by_number.json()["data"]] == [back.as_no]
    nothing = await api.get(path, params={"code": "SF0000000000"}, headers=sh01)
    assert nothing.json()["data"] == []
    assert (await api.get(path, params={"code": back.tracking_no}, headers=gz01)).status_code == 403

    cs = await staff(api, "cs")
    listed = await api.get(
        "/v1/after-sales", params={"return_tracking_no": back.tracking_no}, headers=cs
    )
    assert [x["as_no"] for x in listed.json()["data"]] == [back.as_no]
    other = await api.get("/v1/after-sales", params={"return_tracking_no": "NOPE1"}, headers=cs)
    assert other.json()["data"] == []

    inbound = {
        "inbound_key": "pda-scan-1",
        "lines": [{"line_no": back.line["line_no"], "sellable": 1, "damaged": 1}],
    }
    first = await api.post(f"/v1/after-sales/{back.as_no}/inbound", headers=sh01, json=inbound)
    assert first.status_code == 200, first.text
    assert first.json()["status"] in ("received", "refunding", "refunded")

    async def refunded() -> bool | None:
        seen = await api.get(path, params={"code": back.as_no}, headers=sh01)
        return True if seen.json()["data"][0]["status"] == "refunded" else None

    await eventually(refunded, "refunded after the return was received")
    # The answer was lost: sent again with the same key, after the after-sale closed.
    again = await api.post(f"/v1/after-sales/{back.as_no}/inbound", headers=sh01, json=inbound)
    assert again.status_code == 200, again.text
    assert again.json()["as_no"] == back.as_no and again.json()["status"] == "refunded"
    other_key = {**inbound, "inbound_key": "pda-scan-2"}
    late = await api.post(f"/v1/after-sales/{back.as_no}/inbound", headers=sh01, json=other_key)
    assert late.status_code == 409, late.text
    assert sorted(await _return_in_rows(stack, back.as_no)) == [1, 1]
