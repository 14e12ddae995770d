"""A request's id in the lines its workflow's activities write (core/request_ids.py), over the
whole back office. The API and the worker share one process here, but not a context: the id
reaches an activity only through Temporal's headers, as it does between `houtai up`'s
processes."""

from __future__ import annotations

import httpx

from core.request_ids import id_in
from tests.support.order_api import lines_of, order_body, place_order, skus_in
from tests.support.orders import SHOP
from tests.support.stack import Stack
from tests.workflows.test_request_ids import lines


async def test_the_payment_requests_id_is_on_the_providers_call_made_for_it(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    body = order_body(lines_of((sku, 1)), key="rid-1", customer_id=31)
    with lines() as written:
        order = await place_order(api, body, SHOP | {"X-Request-Id": "rid-place-1"})
        paying = await api.post(
            f"/v1/orders/{order['order_no']}/payments",
            headers=SHOP | {"X-Request-Id": "rid-pay-1"},
        )
        assert paying.status_code == 201, paying.text
    # The open_payment activity's call to the payment provider (httpx's own line), written by
    # the worker while the API served the request.
    [call] = [
        r for r in written.records
        if r.name == "httpx" and f"{stack.payments}/v1/payments " in r.getMessage()
    ]  # fmt: skip
    assert getattr(call, "request_id", None) == "rid-pay-1"
    history = await stack.client.get_workflow_handle(f"order-{order['order_no']}").fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    assert id_in(started.header.fields) == "rid-place-1"
    [accepted] = [
        e.workflow_execution_update_accepted_event_attributes.accepted_request.input.header
        for e in history.events
        if e.HasField("workflow_execution_update_accepted_event_attributes")
        and e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
        == "request_payment"
    ]
    assert id_in(accepted.fields) == "rid-pay-1"
