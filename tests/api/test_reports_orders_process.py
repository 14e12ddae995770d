"""The orders report over the whole back office: orders placed by the storefront and moved by
the real order process (a payment, a payment deadline passing, a storefront cancel, a customer
service cancel, a risk review rejecting) show in the funnel and the cancellations by kind the
moment their steps are recorded, and the paid order's units count as sold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from models.contracts.order import OrderPolicy
from models.domain.business_day import business_day
from tests.support.order_api import lines_of, order_body, pay, place_order, skus_in, staff
from tests.support.orders import SHOP, wait_cancelled, wait_status
from tests.support.stack import Stack, fast_timings

# Every order waits on a risk review; unpaid, it is cancelled after 15 s (the other cancels
# come well before).
QUICK = {
    "policy": OrderPolicy(risk_review_over_fen=1),
    "timings": fast_timings().model_copy(update={"payment_window": timedelta(seconds=15)}),
}


def window() -> dict[str, str]:
    today = business_day(datetime.now(UTC))
    return {"date_from": str(today - timedelta(days=1)), "date_to": str(today + timedelta(days=1))}


async def report(api: httpx.AsyncClient, headers: dict[str, str], name: str) -> Any:
    answer = await api.get(f"/v1/reports/{name}", params=window(), headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.mark.parametrize("stack", [QUICK], indirect=True, ids=["quick"])
async def test_the_order_process_moves_the_funnel_and_the_cancels_by_kind(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    ops, cs = await staff(api, "ops"), await staff(api, "cs")
    before = await report(api, ops, "after-sales")
    sold_before = before["totals"]["sold_units"]
    paid = (await place_order(api, order_body(lines_of((sku, 5)), key="rpt-paid")))["order_no"]
    await pay(api, provider, paid)
    await wait_status(api, paid, "paid")
    numbers = [
        (await place_order(api, order_body(lines_of((sku, 1)), key=f"rpt-{i}")))["order_no"]
        for i in range(4)
    ]
    timeout, by_shop, by_cs, rejected = numbers
    cancel = f"/v1/orders/{by_shop}/cancel"
    assert (await api.post(cancel, json={"reason": "不想要了"}, headers=SHOP)).status_code == 200
    cancel = f"/v1/orders/{by_cs}/cancel"
    assert (await api.post(cancel, json={"reason": "顾客来电"}, headers=cs)).status_code == 200
    review = f"/v1/orders/{rejected}/risk-review"
    answer = await api.post(review, json={"approve": False, "reason": "地址可疑"}, headers=ops)
    assert answer.status_code == 200, answer.text
    for number in (timeout, by_shop, by_cs, rejected):
        await wait_cancelled(api, number)

    body = await report(api, ops, "orders")
    assert {k: body["totals"][k] for k in ("placed", "paid", "cancelled")} == {
        "placed": 5, "paid": 1, "cancelled": 4
    }  # fmt: skip
    assert {c["kind"]: c["orders"] for c in body["cancellations"]} == {
        "payment_timeout": 1,
        "customer": 1,
        "staff": 1,
        "risk_review": 1,
    }
    assert [r["storefront"] for r in body["rows"]] and all(
        r["api_key_id"] == body["rows"][0]["api_key_id"] for r in body["rows"]
    )
    after = await report(api, ops, "after-sales")
    assert after["totals"]["sold_units"] == sold_before + 5  # the paid order held 5 units
