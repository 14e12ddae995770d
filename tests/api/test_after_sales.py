"""After-sales over HTTP on the whole back office (issue 6): a delivered order's customer asks
for a refund of one unit, customer service approves, the provider refunds exactly the unit's
share of what was paid, and the money ledger still balances; mistakes are refused."""

from __future__ import annotations

import httpx
from sqlalchemy import select, text

from models.db import Notification, Refund
from tests.support.after_sale_api import delivered
from tests.support.order_api import (
    DEVICE,
    Json,
    figures,
    only_in,
    problem,
    refunds,
    staff,
    view,
)
from tests.support.orders import (
    SHOP,
    customer_parcel,
    deliver,
    eventually,
    pack_and_hand_over,
)
from tests.support.stack import Stack


async def delivered_order(stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient) -> Json:
    return await delivered(stack, api, carrier, [(await only_in(stack, "SH01"), 3)])


async def test_a_refund_of_one_unit_is_approved_refunded_and_the_ledger_balances(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    order = await delivered_order(stack, api, carrier)
    number = order["order_no"]
    line = order["lines"][0]
    body = {
        "client_request_key": "as-1",
        "type": "refund_only",
        "lines": [{"line_no": line["line_no"], "quantity": 1}],
        "reason": "包装破损",
    }
    opened = await api.post(f"/v1/orders/{number}/after-sales", headers=SHOP, json=body)
    assert opened.status_code == 201, opened.text
    after_sale = opened.json()
    expected = line["paid_fen"] // 3  # the first of three units: the proportional floor
    assert (after_sale["status"], after_sale["refund_fen"]) == ("requested", expected)
    again = await api.post(f"/v1/orders/{number}/after-sales", headers=SHOP, json=body)
    assert again.json()["as_no"] == after_sale["as_no"]  # the same key is the same request
    too_many = {**body, "client_request_key": "as-2", "lines": [{"line_no": 1, "quantity": 3}]}
    refused = problem(
        await api.post(f"/v1/orders/{number}/after-sales", headers=SHOP, json=too_many), 409
    )
    assert "2 left" in refused["detail"] or "available" in refused["detail"], refused

    path = f"/v1/after-sales/{after_sale['as_no']}"
    shown = await eventually(
        lambda: _json_if_ok(api.get(path, headers=SHOP)), "after-sale projected"
    )
    assert (shown["status"], shown["lines"][0]["amount_fen"]) == ("requested", expected)
    cs = await staff(api, "cs")
    listed = (await api.get("/v1/after-sales?status=requested", headers=cs)).json()
    assert [a["as_no"] for a in listed["data"]] == [after_sale["as_no"]]
    problem(await api.post(f"{path}/decision", headers=SHOP, json={"approve": True}), 403)
    problem(await api.post(f"{path}/decision", headers=cs, json={"approve": False}), 422)
    decided = await api.post(f"{path}/decision", headers=cs, json={"approve": True})
    assert decided.status_code == 200, decided.text

    async def refunded() -> Json | None:
        found: Json = (await api.get(path, headers=cs)).json()
        return found if found["status"] == "refunded" else None

    done = await eventually(refunded, "after-sale refunded")
    assert (done["decided_by"], done["refund_no"]) == ("user:cs", f"RF{after_sale['as_no']}")
    [refund] = [r for r in await refunds(stack, number) if isinstance(r, Refund)]
    assert (refund.refund_no, refund.amount_fen) == (done["refund_no"], expected)
    async with stack.sessions() as session:
        ledger = await session.scalar(
            text("SELECT SUM(amount_fen) FROM money_ledger WHERE order_no = :o"), {"o": number}
        )
    assert ledger == order["payable_fen"] - expected
    problem(await api.post(f"{path}/withdraw", headers=SHOP), 409)  # decided: too late


async def _inspection_notices(stack: Stack, as_no: str) -> list[tuple[int, str, bool]]:
    """(warehouse, permission, done) of the after-sale's return-inspection notifications."""
    async with stack.sessions() as session:
        rows = await session.execute(
            select(Notification.warehouse_id, Notification.permission, Notification.done_at)
            .where(Notification.kind == "return_inspection", Notification.ref == as_no)
        )  # fmt: skip
        return [(int(w), p, done is not None) for w, p, done in rows.all()]


async def _json_if_ok(call: object) -> Json | None:
    answer = await call  # type: ignore[misc]
    return answer.json() if answer.status_code == 200 else None


async def test_a_return_received_damaged_is_refunded_and_both_ledgers_balance(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    order = await delivered_order(stack, api, carrier)
    number, line = order["order_no"], order["lines"][0]
    before = await figures(stack)
    body = {
        "client_request_key": "ret-1",
        "type": "return_and_refund",
        "lines": [{"line_no": line["line_no"], "quantity": 2}],
        "reason": "不想要了",
    }
    opened = await api.post(f"/v1/orders/{number}/after-sales", headers=SHOP, json=body)
    assert opened.status_code == 201, opened.text
    as_no = opened.json()["as_no"]
    path = f"/v1/after-sales/{as_no}"
    await eventually(lambda: _json_if_ok(api.get(path, headers=SHOP)), "projected")
    cs = await staff(api, "cs")
    assert (
        await api.post(f"{path}/decision", headers=cs, json={"approve": True})
    ).status_code == 200

    async def awaiting() -> Json | None:
        found: Json = (await api.get(path, headers=SHOP)).json()
        return found if found["status"] == "awaiting_return" else None

    shown = await eventually(awaiting, "waiting for the return")
    assert shown["waiting_for"] == "the customer to ship the goods back"
    unknown = {"carrier_code": "SF", "tracking_no": "SF9900112233"}  # no such parcel
    assert (
        "knows no parcel"
        in problem(await api.post(f"{path}/return-shipment", headers=SHOP, json=unknown), 422)[
            "detail"
        ]
    )
    back = {"carrier_code": "SF", "tracking_no": await customer_parcel(carrier)}
    shipped = await api.post(f"{path}/return-shipment", headers=SHOP, json=back)
    assert shipped.status_code == 200, shipped.text
    assert (shipped.json()["status"], shipped.json()["return_tracking_no"]) == (
        "returning",
        back["tracking_no"],
    )
    await deliver(carrier, back["tracking_no"])  # the carrier pushes: picked up, delivered

    async def arrived() -> list[str] | None:
        async with stack.sessions() as session:
            rows = await session.scalars(
                text("SELECT step FROM order_events WHERE order_no = :o ORDER BY id"), {"o": number}
            )
            steps = list(rows.all())
        return steps if "after_sale_return_delivered" in steps else None

    # Both pushes may land before the workflow looks: then only the delivery is recorded.
    timeline = await eventually(arrived, "the return's delivery on the order's timeline")
    assert timeline.index("after_sale_return_shipped") < timeline.index(
        "after_sale_return_delivered"
    )
    # The parcel is at the warehouse: its inspection waits on the return warehouse (§6.10).
    sh01 = order["packages"][0]["warehouse_id"]
    assert await _inspection_notices(stack, as_no) == [(sh01, "aftersales.inbound", False)]
    inbound = {"lines": [{"line_no": line["line_no"], "sellable": 1, "damaged": 1}]}
    problem(await api.post(f"{path}/inbound", headers=DEVICE["GZ01"], json=inbound), 403)
    received = await api.post(f"{path}/inbound", headers=DEVICE["SH01"], json=inbound)
    assert received.status_code == 200, received.text
    assert await _inspection_notices(stack, as_no) == [(sh01, "aftersales.inbound", True)]

    async def refunded() -> Json | None:
        found: Json = (await api.get(path, headers=cs)).json()
        return found if found["status"] == "refunded" else None

    done = await eventually(refunded, "return refunded")
    expected = line["paid_fen"] * 2 // 3
    assert done["refund_fen"] == expected
    sku, warehouse = line["sku_id"], order["packages"][0]["warehouse_id"]
    after = await figures(stack)  # the stock invariants are checked on the way
    assert after[sku, warehouse][0] == before[sku, warehouse][0] + 2  # both back on hand
    async with stack.sessions() as session:
        blocked = await session.scalar(
            text(
                "SELECT SUM(s.quantity) FROM location_stocks s JOIN locations l "
                "ON l.id = s.location_id WHERE s.sku_id = :s AND l.kind = 'damage' "
                "AND s.disabled"
            ),
            {"s": sku},
        )
        ledger = await session.scalar(
            text("SELECT SUM(amount_fen) FROM money_ledger WHERE order_no = :o"), {"o": number}
        )
        movements = (
            (
                await session.execute(
                    text(
                        "SELECT on_hand_delta FROM stock_movements WHERE ref_no = :a "
                        "AND movement_type = 'return_in' ORDER BY id"
                    ),
                    {"a": as_no},
                )
            )
            .scalars()
            .all()
        )
    assert blocked == 1  # the damaged unit: on hand, never sold
    assert sorted(movements) == [1, 1]
    assert ledger == order["payable_fen"] - expected


async def test_an_exchange_ships_a_replacement_through_the_normal_shipment_path(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    order = await delivered_order(stack, api, carrier)
    number, line = order["order_no"], order["lines"][0]
    body = {
        "client_request_key": "ex-1",
        "type": "exchange",
        "lines": [{"line_no": line["line_no"], "quantity": 1}],
        "reason": "尺码不合适",
    }
    opened = await api.post(f"/v1/orders/{number}/after-sales", headers=SHOP, json=body)
    assert opened.status_code == 201, opened.text
    as_no = opened.json()["as_no"]
    path = f"/v1/after-sales/{as_no}"
    await eventually(lambda: _json_if_ok(api.get(path, headers=SHOP)), "projected")
    cs = await staff(api, "cs")
    assert (
        await api.post(f"{path}/decision", headers=cs, json={"approve": True})
    ).status_code == 200

    async def status(wanted: str) -> Json | None:
        found: Json = (await api.get(path, headers=cs)).json()
        return found if found["status"] == wanted else None

    await eventually(lambda: status("awaiting_return"), "waiting for the return")
    back = {"carrier_code": "SF", "tracking_no": await customer_parcel(carrier)}
    assert (await api.post(f"{path}/return-shipment", headers=SHOP, json=back)).status_code == 200
    inbound = {"lines": [{"line_no": line["line_no"], "sellable": 1, "damaged": 0}]}
    assert (
        await api.post(f"{path}/inbound", headers=DEVICE["SH01"], json=inbound)
    ).status_code == 200
    done = await eventually(lambda: status("exchanged"), "replacement released")
    replacement = f"PK{as_no[2:]}X"

    async def listed() -> Json | None:
        shown = await view(api, number)
        found = [p for p in shown["packages"] if p["package_no"] == replacement]
        return found[0] if found and found[0]["status"] == "released" else None

    parcel = await eventually(listed, "replacement package released")
    await deliver(carrier, await pack_and_hand_over(api, parcel))
    shown = await view(api, number)
    assert [p["status"] for p in shown["packages"] if p["package_no"] == replacement] in (
        ["shipped"],
        ["delivered"],
    )
    assert shown["refunded_fen"] == 0 and done["refund_no"] is None


async def test_a_refund_retried_after_provider_errors_and_called_back_four_times_is_one_refund(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    order = await delivered_order(stack, api, carrier)
    number, line = order["order_no"], order["lines"][0]
    body = {
        "client_request_key": "flaky-1",
        "type": "refund_only",
        "lines": [{"line_no": line["line_no"], "quantity": 1}],
        "reason": "少发一件",
    }
    opened = await api.post(f"/v1/orders/{number}/after-sales", headers=SHOP, json=body)
    as_no = opened.json()["as_no"]
    path = f"/v1/after-sales/{as_no}"
    await eventually(lambda: _json_if_ok(api.get(path, headers=SHOP)), "projected")
    down = {"error_rate": 1.0, "duplicate_webhooks": 3}
    assert (await provider.put("/_sandbox/faults", json=down)).status_code == 200
    cs = await staff(api, "cs")
    assert (
        await api.post(f"{path}/decision", headers=cs, json={"approve": True})
    ).status_code == 200
    handle = stack.client.get_workflow_handle(f"aftersale-{as_no}")

    async def refund_failed() -> bool:
        pending = (await handle.describe()).raw_description.pending_activities
        return any(
            a.activity_type.name == "refund_payment" and a.HasField("last_failure") for a in pending
        )

    await eventually(refund_failed, "the provider to answer 503", seconds=60)
    flaky = {"duplicate_webhooks": 3}  # back up, but every callback comes four times
    assert (await provider.put("/_sandbox/faults", json=flaky)).status_code == 200

    async def refunded() -> Json | None:
        found: Json = (await api.get(path, headers=cs)).json()
        return found if found["status"] == "refunded" else None

    await eventually(refunded, "refunded once the provider is back")
    mine = [r for r in await refunds(stack, number) if r.refund_no == f"RF{as_no}"]
    assert len(mine) == 1
    async with stack.sessions() as session:
        rows = await session.scalar(
            text("SELECT count(*) FROM money_ledger WHERE ref_no = :r"), {"r": f"RF{as_no}"}
        )
    assert rows == 1
