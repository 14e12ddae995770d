"""Coupons issued to a segment (DESIGN §6.7, issue 16): a segment of N customers (100,000 by
default) gets a coupon through the API, as the console issues it (POST /v1/segments/{id}/
coupon-batches: CouponBatchWorkflow, chunks of 500 customers, each one idempotent insert); the
worker is SIGKILLed once in the middle of the batch and `houtai up` restarts it.

Figures: coupons issued per second over the whole batch (the kill and the activity's retry
after its timeout included) and before the kill (steady state), next to the database alone
inserting the same rows in one statement; and, after the batch, customers with two coupons of
it (must be 0) and customers with none (must be 0)."""

from __future__ import annotations

import os
import re
import signal
import time
from typing import Any

import _stack
import httpx
from _figures import say
from _stack import Stack, ok
from sqlalchemy import text

from workers.seed import DEMO_PASSWORD

Row = tuple[str, str, str, str, str, str]


def _worker_pid(stack: Stack) -> tuple[int, int]:
    """(pid, restarts so far) of houtai up's worker, from its launcher's lines."""
    log = (stack.workdir / "up.log").read_text()
    found = re.findall(r"worker: (?:started|restarted), pid (\d+)", log)
    return int(found[-1]), len(found) - 1


async def _customers(stack: Stack, count: int) -> None:
    """`count` customers of the demo storefront, with no orders (all dormant)."""
    await _stack.known_customers(stack.sessions, 1_000_000, count)
    async with stack.sessions() as session:
        await session.execute(
            text(
                "INSERT INTO coupons (code, rule, active) VALUES ('BENCH-BACK', "
                '\'{"kind": "fixed", "amount_off_fen": 1000, "scope": {"all_items": true}}\','
                " true)"
            )
        )
        await session.commit()


async def _baseline_per_s(stack: Stack, batch_id: int, customers: int) -> float:
    """The same rows inserted by the database alone, in one statement, for a copy of the
    batch (rolled back)."""
    async with stack.sessions() as session:
        copy = await session.scalar(
            text(
                "INSERT INTO coupon_batches (segment_id, coupon_id, status, as_of, total, issued,"
                " cursor, created_by) SELECT segment_id, coupon_id, 'running', as_of, total, 0,"
                " 0, 'baseline' FROM coupon_batches WHERE id = :b RETURNING id"
            ),
            {"b": batch_id},
        )
        began = time.perf_counter()
        await session.execute(
            text(
                "INSERT INTO customer_coupons (batch_id, customer_id, coupon_id) "
                "SELECT :copy, c.id, b.coupon_id FROM customers c, coupon_batches b "
                "WHERE b.id = :copy AND c.customer_key >= 1000000 ON CONFLICT DO NOTHING"
            ),
            {"copy": copy},
        )
        elapsed = time.perf_counter() - began
        await session.rollback()
    return _rate(customers, elapsed)


async def _counted(stack: Stack, batch_id: int) -> int:
    async with stack.sessions() as session:
        found = await session.scalar(
            text("SELECT issued FROM coupon_batches WHERE id = :b"), {"b": batch_id}
        )
    return int(found or 0)


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("nan")


async def _issue(api: httpx.AsyncClient) -> dict[str, Any]:
    login = ok(
        await api.post("/v1/auth/login", json={"username": "ops", "password": DEMO_PASSWORD}), 200
    )
    ops = {"Authorization": f"Bearer {login['access_token']}"}
    rules = [{"kind": "no_order_in", "days": 180}]
    segment = ok(
        await api.post("/v1/segments", json={"name": "沉睡会员", "rules": rules}, headers=ops), 201
    )
    coupons = ok(await api.get("/v1/coupons", params={"limit": 500}, headers=ops), 200)["data"]
    [coupon] = [c["id"] for c in coupons if c["code"] == "BENCH-BACK"]
    path = f"/v1/segments/{segment['id']}/coupon-batches"
    batch = ok(await api.post(path, json={"coupon_id": coupon}, headers=ops, timeout=120), 201)
    return batch


async def _twice_and_none(stack: Stack, batch_id: int) -> tuple[int, int, int]:
    """(customers given the batch's coupon twice or more, customers given none — every one is
    in the segment, none has an order — and the batch's rows)."""
    async with stack.sessions() as session:
        twice = await session.scalar(
            text(
                "SELECT count(*) FROM (SELECT customer_id FROM customer_coupons WHERE batch_id = :b"
                " GROUP BY customer_id HAVING count(*) > 1) AS t"
            ),
            {"b": batch_id},
        )
        none = await session.scalar(
            text(
                "SELECT count(*) FROM customers c WHERE NOT EXISTS "
                "(SELECT 1 FROM customer_coupons g WHERE g.batch_id = :b AND g.customer_id = c.id)"
            ),
            {"b": batch_id},
        )
        rows = await session.scalar(
            text("SELECT count(*) FROM customer_coupons WHERE batch_id = :b"), {"b": batch_id}
        )
    return int(twice or 0), int(none or 0), int(rows or 0)


async def coupon_batch_rows(stack: Stack, customers: int, kill_at: float = 0.4) -> list[Row]:
    """Issue a coupon to `customers` dormant customers, killing the worker once when
    `kill_at` of them have theirs; the bench's table rows."""
    say(f"[coupons] {customers:,} customers")
    await _customers(stack, customers)
    async with httpx.AsyncClient(base_url=stack.api, timeout=30) as api:
        began = time.perf_counter()
        batch = await _issue(api)
    batch_id, segment = int(batch["id"]), int(batch["total"])  # and the shop's bench customer
    say(f"[coupons] batch {batch_id} started")

    async def issued() -> int:
        return await _counted(stack, batch_id)

    target = int(customers * kill_at)
    await _stack.until(
        issued, lambda n: n >= target, f"{target:,} issued", within=3600, interval=0.2
    )
    before_kill, steady_s = await issued(), time.perf_counter() - began
    pid, restarts = _worker_pid(stack)
    os.kill(pid, signal.SIGKILL)
    killed_at = time.perf_counter()
    say(f"[coupons] SIGKILL worker pid {pid} with {before_kill:,} issued")

    async def restarted() -> int:
        return _worker_pid(stack)[1]

    await _stack.until(
        restarted, lambda n: n > restarts, "worker restarted", within=300, interval=0.2
    )
    back_s = time.perf_counter() - killed_at

    async def status() -> str:
        async with stack.sessions() as session:
            found = await session.scalar(
                text("SELECT status FROM coupon_batches WHERE id = :b"), {"b": batch_id}
            )
        return str(found)

    await _stack.until(status, lambda s: s == "done", "batch done", within=3600, interval=0.2)
    whole_s = time.perf_counter() - began
    total = await issued()
    twice, none, rows = await _twice_and_none(stack, batch_id)
    baseline = await _baseline_per_s(stack, batch_id, customers)
    say(f"[coupons] done: {total:,} issued in {whole_s:.1f} s, worker back in {back_s:.1f} s")
    whole, steady = _rate(total, whole_s), _rate(before_kill, steady_s)

    def verdict(ok_: bool) -> str:
        return "met" if ok_ else "MISSED"

    return [
        ("coupons issued/s, whole batch (kill included)", f"{whole:,.0f}", f"{baseline:,.0f}",
         f"{whole / baseline:.2f}x", "", ""),
        ("coupons issued/s, before the kill", f"{steady:,.0f}", f"{baseline:,.0f}",
         f"{steady / baseline:.2f}x", "", ""),
        ("worker back after SIGKILL", f"{back_s:.1f} s", "", "", "", ""),
        ("coupons issued = segment = batch count", f"{rows:,} / {segment:,} / {total:,}", "",
         "", "equal", verdict(rows == segment == total)),
        ("customers given a coupon twice", str(twice), "", "", "0", verdict(twice == 0)),
        ("customers given none", str(none), "", "", "0", verdict(none == 0)),
    ]  # fmt: skip
