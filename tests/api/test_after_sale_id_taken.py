"""Item 10 of issue 12: an after-sale whose number's workflow id is already taken (a sequence
restored behind the workflows, say) is a 409, not a 500 — and the refused request holds no
units: the next request for the same units is accepted."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy import text

from tests.support.after_sale_api import delivered
from tests.support.order_api import only_in, problem
from tests.support.orders import SHOP
from tests.support.stack import Stack


async def next_after_sale_no(stack: Stack) -> str:
    async with stack.sessions() as session:
        last, called = (
            await session.execute(text("SELECT last_value, is_called FROM after_sale_seq"))
        ).one()
    return f"AS{datetime.now(UTC):%Y%m%d}{(last + 1 if called else last):06d}"


def refund_of(key: str) -> dict[str, object]:
    return {
        "client_request_key": key,
        "type": "refund_only",
        "lines": [{"line_no": 1, "quantity": 3}],
        "reason": "质量问题",
    }


async def test_an_after_sale_whose_workflow_id_is_taken_is_a_409_and_holds_nothing(
    stack: Stack, api: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    order = await delivered(stack, api, carrier, [(await only_in(stack, "SH01"), 3)])
    order_no = order["order_no"]
    taken = await next_after_sale_no(stack)
    # A workflow no worker runs holds the id the next after-sale will want.
    squatter = await stack.client.start_workflow(
        "Squatter", id=f"aftersale-{taken}", task_queue=f"{stack.task_queue}-nobody"
    )
    try:
        answer = await api.post(
            f"/v1/orders/{order_no}/after-sales", headers=SHOP, json=refund_of("first")
        )
        refused = problem(answer, 409)
        assert taken in refused["detail"]
        assert refused["type"] == "/problems/AfterSaleExistsError"
    finally:
        await squatter.terminate("test over")

    # The refused request took none of the 3 units: all 3 can be asked for again.
    again = await api.post(
        f"/v1/orders/{order_no}/after-sales", headers=SHOP, json=refund_of("second")
    )
    assert again.status_code == 201, again.text
    opened = again.json()
    assert opened["as_no"] != taken
    assert [(x["line_no"], x["quantity"]) for x in opened["lines"]] == [(1, 3)]
