"""Group buys under load (DESIGN §6.8, issue 16), the campaigns bench's group section.

`groups` groups of `size` form at once over the API, at most `concurrency` buyers' requests in
flight: each group is opened by its first buyer and joined by the others, each member's order
paid at the sandbox provider. Half the groups (offer "complete") get every member paid and
complete; the other half (offer "time out", a short time limit) get all but one member paid and
fail at their time limit. Then the money ledger is read per member: every paid member of a
failed group refunded exactly once and in full, no member of a completed group refunded, no
unpaid member with money in the ledger. Figures are printed, never asserted here."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import _figures
import _floor
import _stack
import httpx
from _figures import percentile, say
from _stack import ADDRESS, SHOP, Stack, ok
from sqlalchemy import text

PRICE_FEN = 990
LEDGER = """
    SELECT g.status, m.paid_at IS NOT NULL AS paid,
           count(l.id) FILTER (WHERE l.entry_type = 'payment') AS payments,
           count(l.id) FILTER (WHERE l.entry_type = 'refund') AS refunds,
           coalesce(sum(l.amount_fen), 0) AS balance
    FROM group_buy_members m
    JOIN group_buys g ON g.group_no = m.group_no
    LEFT JOIN money_ledger l ON l.order_no = m.order_no
    WHERE g.offer_id = ANY(:offers)
    GROUP BY m.group_no, m.order_no, g.status, m.paid_at"""


async def _offer(
    api: httpx.AsyncClient, ops: dict[str, str], sku: int, size: int, minutes: int
) -> int:
    now = datetime.now(UTC)
    body = {
        "name": f"bench {size}×{minutes}min",
        "sku_id": sku,
        "group_price_fen": PRICE_FEN,
        "group_size": size,
        "time_limit_minutes": minutes,
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(days=1)).isoformat(),
    }
    return int(ok(await api.post("/v1/group-buy-offers", json=body, headers=ops), 201)["id"])


def _server_log(stack: Stack) -> None:
    """What `houtai up` logged last, before the run breaks (its temp dir goes with it)."""
    for log in sorted(stack.workdir.rglob("*.log")):
        say(f"--- {log.name} (last lines)")
        print("\n".join(log.read_text(errors="replace").splitlines()[-80:]), flush=True)


def _buyer(key: str, customer_id: int) -> dict[str, Any]:
    return {"client_order_key": key, "customer_id": customer_id, "address": ADDRESS}


async def _offers(
    stack: Stack, api: httpx.AsyncClient, groups: int, size: int, fail_after_minutes: int
) -> tuple[int, int]:
    """Stock for every member, and the two offers: one completing, one timing out."""
    async with stack.sessions() as session:
        sku = await session.scalar(
            text(
                "SELECT s.sku_id FROM stocks s JOIN warehouses w ON w.id = s.warehouse_id "
                "JOIN skus k ON k.id = s.sku_id WHERE w.code = 'SH01' AND NOT k.batch_managed "
                "ORDER BY s.sku_id LIMIT 1"
            )
        )
        warehouse = await session.scalar(text("SELECT id FROM warehouses WHERE code = 'SH01'"))
    assert sku is not None and warehouse is not None
    await _stack.adjust_stock(stack.sessions, int(sku), int(warehouse), groups * size + 10)
    ops = {"Authorization": f"Bearer {await _floor.login(api, 'ops')}"}
    completing = await _offer(api, ops, int(sku), size, 60)
    timing_out = await _offer(api, ops, int(sku), size, fail_after_minutes)
    return completing, timing_out


async def group_buys(
    stack: Stack,
    api: httpx.AsyncClient,
    *,
    groups: int = 200,
    size: int = 5,
    concurrency: int = 40,
    fail_after_minutes: int = 15,
) -> list[tuple[str, str, str]]:
    """Run the group section; the rows (figure, houtai, verdict) for the bench's table."""
    completing, timing_out = await _offers(stack, api, groups, size, fail_after_minutes)
    gate = asyncio.Semaphore(concurrency)
    joins: list[float] = []
    refused: list[str] = []
    busy: list[str] = []  # 503 answers (the back office busy), each sent again

    async with httpx.AsyncClient(base_url=stack.payments, timeout=60) as provider:

        async def send(path: str, body: dict[str, Any] | None = None) -> httpx.Response:
            """As a storefront does: a 503 (busy, nothing lost) is sent again, same keys."""
            while True:
                answer = await api.post(path, json=body, headers=SHOP)
                if answer.status_code != 503:
                    return answer
                busy.append(path)
                await asyncio.sleep(float(answer.headers.get("Retry-After", "2")))

        async def member(path: str, body: dict[str, Any], pays: bool) -> str:
            async with gate:
                began = time.perf_counter()
                answer = await send(path, body)
                joins.append(time.perf_counter() - began)
                if answer.status_code == 409:
                    refused.append(answer.text[:200])
                    return ""
                if answer.status_code != 201:
                    _server_log(stack)
                joined = ok(answer, 201)
                if pays:
                    number = joined["order"]["order_no"]
                    payment = ok(await send(f"/v1/orders/{number}/payments"), 201)
                    simulate = f"/v1/payments/{payment['payment_id']}/simulate"
                    ok(await provider.post(simulate, json={"outcome": "succeeded"}), 200)
                return str(joined["group"]["group_no"])

        async def one_group(g: int) -> None:
            offer = completing if g % 2 == 0 else timing_out
            base = 2_000_000 + g * 100  # customers the bench upserted (campaigns.py)
            first = _buyer(f"gb-bench-{g}-0", base)
            group_no = await member("/v1/group-buys", {**first, "offer_id": offer}, True)
            if not group_no:
                return
            await asyncio.gather(
                *(
                    member(
                        f"/v1/group-buys/{group_no}/members",
                        _buyer(f"gb-bench-{g}-{i}", base + i),
                        offer == completing or i < size - 1,  # a failing group's last never pays
                    )
                    for i in range(1, size)
                )
            )

        say(f"[run] {groups} groups of {size} forming at once, {concurrency} requests in flight")
        began = time.perf_counter()
        await asyncio.gather(*(one_group(g) for g in range(groups)))
        formed = time.perf_counter() - began

    async def decided() -> dict[str, int]:
        async with stack.sessions() as session:
            rows = await session.execute(
                text(
                    "SELECT status, count(*) FROM group_buys WHERE offer_id = ANY(:offers) "
                    "GROUP BY status"
                ),
                {"offers": [completing, timing_out]},
            )
            return {str(r[0]): int(r[1]) for r in rows}

    say(f"[wait] every group decided (the failing half at its {fail_after_minutes} min limit)")
    statuses = await _stack.until(
        decided, lambda s: s.get("forming", 0) == 0, "groups decided", within=900, interval=2
    )
    decided_after = time.perf_counter() - began
    return await _report(
        stack, [completing, timing_out], groups, size, statuses, joins, refused,
        formed, decided_after, len(busy),
    )  # fmt: skip


async def _report(
    stack: Stack,
    offers: list[int],
    groups: int,
    size: int,
    statuses: dict[str, int],
    joins: list[float],
    refused: list[str],
    formed: float,
    decided_after: float,
    busy: int,
) -> list[tuple[str, str, str]]:
    """The money ledger per member, once every refund is in; the table's rows."""
    expected_refunds = (groups // 2) * (size - 1)

    async def ledger() -> list[Any]:
        async with stack.sessions() as session:
            return list((await session.execute(text(LEDGER), {"offers": offers})).all())

    def refunds_done(rows: list[Any]) -> bool:
        return sum(r.refunds for r in rows if r.status == "failed") >= expected_refunds

    say("[wait] every paid member of a failed group refunded")
    rows = await _stack.until(ledger, refunds_done, "refunds in the ledger", within=600, interval=2)
    await asyncio.sleep(5)  # anything that would refund twice has had its chance
    rows = await ledger()
    failed_paid = [r for r in rows if r.status == "failed" and r.paid]
    once = sum(1 for r in failed_paid if r.payments == 1 and r.refunds == 1 and r.balance == 0)
    twice = sum(1 for r in rows if r.refunds > 1)
    completed_refunded = sum(1 for r in rows if r.status == "completed" and r.refunds > 0)
    completed_paid = sum(1 for r in rows if r.status == "completed" and r.payments == 1)
    unpaid_money = sum(1 for r in rows if not r.paid and (r.payments or r.refunds))
    broken = await _stack.invariant_violations(stack.sessions)
    members = len(joins) - len(refused)
    good = (
        once == expected_refunds == len(failed_paid)
        and twice == 0
        and completed_refunded == 0
        and unpaid_money == 0
    )
    return [
        ("groups completed / failed / forming",
         f"{statuses.get('completed', 0)} / {statuses.get('failed', 0)} / "
         f"{statuses.get('forming', 0)}", f"{groups // 2} / {groups // 2} / 0"),
        ("members joined (201) / refused (409)", f"{members} / {len(refused)}",
         f"{groups * size} / 0"),
        ("busy answers (503), sent again with the same keys", str(busy), ""),
        ("join p50 / p99 (open or join, order placed)",
         f"{_figures.ms(percentile(joins, 50))} / {_figures.ms(percentile(joins, 99))}", ""),
        ("every group formed (joined and paid)", f"{formed:.1f} s", ""),
        ("every group decided", f"{decided_after:.1f} s", ""),
        ("paid members of failed groups refunded once, in full",
         f"{once} of {len(failed_paid)}", f"{expected_refunds}"),
        ("members refunded more than once", str(twice), "0"),
        ("members of completed groups paid / refunded", f"{completed_paid} / {completed_refunded}",
         f"{(groups // 2) * size} / 0"),
        ("unpaid members with money in the ledger", str(unpaid_money), "0"),
        ("stock ledgers balance", str(broken or "yes"), "yes"),
        ("group buys: every refund exactly once", "met" if good and not broken else "MISSED", ""),
    ]  # fmt: skip
