"""The sandbox supplier portal: a PO number is one order there (a resend answers the same
acknowledgement, a different order under the same number is refused), and the client sends
houtai's POs to it."""

from __future__ import annotations

import httpx
import pytest

from activities.providers import ProviderError, SandboxSupplier
from sandbox.supplier import SupplierConfig, create_supplier_app

LINES = [{"line_no": 1, "sku_code": "SP001-01", "quantity": 10, "unit_price_fen": 250,
          "ship_to": "SH01"}]  # fmt: skip


async def test_a_po_number_is_one_order_at_the_supplier() -> None:
    app = create_supplier_app(SupplierConfig(webhook_secret="s" * 40))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://supplier"
    ) as portal:
        body = {"po_no": "PO1", "supplier_code": "SUP001", "lines": LINES}
        first = await portal.post("/v1/orders", json=body)
        again = await portal.post("/v1/orders", json=body)
        other = await portal.post(
            "/v1/orders", json={**body, "lines": [{**LINES[0], "quantity": 1}]}
        )
        shown = await portal.get("/v1/orders/PO1")
        missing = await portal.get("/v1/orders/PO2")
        empty = await portal.post("/v1/orders", json={**body, "po_no": "PO3", "lines": []})
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 409)
    assert again.json()["supplier_order_no"] == first.json()["supplier_order_no"]
    assert shown.json()["lines"][0]["quantity"] == 10
    assert (missing.status_code, empty.status_code) == (404, 422)


async def test_the_client_sends_a_po_once() -> None:
    app = create_supplier_app(SupplierConfig(webhook_secret="s" * 40))
    client = SandboxSupplier("http://supplier", transport=httpx.ASGITransport(app=app))
    try:
        ack = await client.send_order(po_no="PO9", supplier_code="SUP001", lines=LINES)
        repeat = await client.send_order(po_no="PO9", supplier_code="SUP001", lines=LINES)
        with pytest.raises(ProviderError):
            await client.send_order(po_no="PO9", supplier_code="SUP002", lines=LINES)
    finally:
        await client.aclose()
    assert repeat == ack
    assert list(app.state.portal.orders) == ["PO9"]
