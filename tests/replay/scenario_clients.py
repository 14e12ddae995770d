"""What every recorded scenario (tests/replay/record_every.py) is given: the clients of its
whole in-process stack, and the timings its stack may run under."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

from models.contracts.order import OrderTimings
from tests.support.order_api import staff
from tests.support.orders import SHOP, wait_status
from tests.support.stack import Stack, fast_timings

LONG_AGO = (date.today() - timedelta(days=90)).isoformat()  # past every demo supplier's terms


@dataclass
class Clients:
    stack: Stack
    api: httpx.AsyncClient
    provider: httpx.AsyncClient
    carrier: httpx.AsyncClient
    wait_for: list[str] = field(default_factory=list)  # workflow ids to see finished

    def finished(self, *workflow_ids: str) -> None:
        self.wait_for.extend(workflow_ids)


Scenario = Callable[[Clients], Awaitable[None]]


def timings(**changes: Any) -> OrderTimings:
    return fast_timings().model_copy(update=changes)


BACKORDER = timings(backorder_retry=timedelta(seconds=2), backorder_for=timedelta(minutes=10))


async def closed(c: Clients, order_no: str) -> None:
    """The customer confirms receipt; the order closes after its after-sale window."""
    confirmed = await c.api.post(f"/v1/orders/{order_no}/confirm-receipt", headers=SHOP)
    assert confirmed.status_code == 200, confirmed.text
    await wait_status(c.api, order_no, "closed")
    c.finished(f"order-{order_no}")


async def decide(c: Clients, as_no: str) -> None:
    cs = await staff(c.api, "cs")
    path = f"/v1/after-sales/{as_no}/decision"
    decided = await c.api.post(path, headers=cs, json={"approve": True})
    assert decided.status_code == 200, decided.text
