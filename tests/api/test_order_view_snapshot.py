"""An order's view is one snapshot: a projection write that changes several of its parts in one
transaction (a refund refused: a refund owed shown `refused` and the timeline's
`refund_refused`) is wholly in the view or not at all, however the reads and writes interleave.
The writes here are made the way the projection makes them, many times, while the view is read."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import text

from tests.support.order_api import lines_of, order_body, place_order, skus_in, staff
from tests.support.stack import Stack

ROUNDS = 60


async def test_a_refusal_and_its_step_are_seen_together(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    [sku] = await skus_in(stack, "SH01")
    number = (await place_order(api, order_body(lines_of((sku, 1)), key="snapshot")))["order_no"]
    ops = await staff(api, "ops")

    async def write(round_no: int) -> None:
        async with stack.sessions() as session:  # one transaction, two parts of the view
            await session.execute(
                text(
                    "INSERT INTO order_refunds (refund_no, order_no, amount_fen, status, reason) "
                    "VALUES (:r, :o, 100, 'refused', 'snapshot test')"
                ),
                {"r": f"RF{number[2:]}T{round_no}", "o": number},
            )
            await asyncio.sleep(0.002)  # the parts land apart inside the transaction
            await session.execute(
                text(
                    "INSERT INTO order_events (order_no, step, seq, actor_kind, actor_name, "
                    "actor_role, detail, idempotency_key) VALUES (:o, 'refund_refused', :s, "
                    "'system', 'test', '', '{}'::jsonb, :k)"
                ),
                {"o": number, "s": 1000 + round_no, "k": f"snapshot-{number}-{round_no}"},
            )
            await session.commit()

    seen: list[tuple[int, int]] = []
    for round_no in range(ROUNDS):
        writer = asyncio.create_task(write(round_no))
        while not writer.done():
            view = (await api.get(f"/v1/orders/{number}", headers=ops)).json()
            refused = sum(1 for r in view["pending_refunds"] if r["status"] == "refused")
            steps = sum(1 for e in view["timeline"] if e["step"] == "refund_refused")
            seen.append((refused, steps))
            assert refused == steps, (refused, steps, round_no)  # never one without the other
            assert steps in (round_no, round_no + 1), (steps, round_no)
        await writer
    assert len(seen) >= ROUNDS  # the view was read while the writes went on
