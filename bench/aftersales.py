"""After-sales benchmark on the embedded stack (`houtai up` in a temp dir), issue 6:

  after-sale requests processed per second end to end — return-and-refund of one unit of a
  delivered order: request → customer service approves → shipped back → the warehouse receives
  and inspects it → the provider refunds it (status `refunded` seen by the API) — with
  --concurrency requests in flight.

The delivered orders are made first through the API (placed, paid, planned into waves, picked,
packed, handed over, delivered by carrier pushes): not timed. Figures are printed, not
asserted: the exit status is non-zero only if the run itself breaks."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

import _figures
import _floor
import _stack
import httpx
from _figures import percentile, say
from _stack import SHOP, Stack, ok
from sqlalchemy import text

from workers.seed import DEMO_DEVICE_KEYS


async def delivered_orders(stack: Stack, api: httpx.AsyncClient, count: int) -> list[str]:
    async with stack.sessions() as session:
        sku = await session.scalar(
            text(
                "SELECT s.sku_id FROM stocks s JOIN warehouses w ON w.id = s.warehouse_id "
                "JOIN skus k ON k.id = s.sku_id WHERE w.code = 'SH01' AND NOT k.batch_managed "
                "AND s.on_hand - s.reserved > 20 ORDER BY s.sku_id LIMIT 1"
            )
        )
        warehouse = await session.scalar(text("SELECT id FROM warehouses WHERE code = 'SH01'"))
    assert sku is not None and warehouse is not None
    await _stack.adjust_stock(stack.sessions, int(sku), int(warehouse), count + 10)
    numbers = []
    async with httpx.AsyncClient(base_url=stack.payments, timeout=30) as provider:
        for i in range(count):
            body = _stack.order_body(f"as-bench-{i}", [int(sku)])
            number = ok(await api.post("/v1/orders", json=body, headers=SHOP), 201)["order_no"]
            payment = ok(await api.post(f"/v1/orders/{number}/payments", headers=SHOP), 201)
            simulate = f"/v1/payments/{payment['payment_id']}/simulate"
            ok(await provider.post(simulate, json={"outcome": "succeeded"}), 200)
            numbers.append(number)
    manager = {"Authorization": f"Bearer {await _floor.login(api, 'warehouse_manager')}"}
    device = {"X-API-Key": DEMO_DEVICE_KEYS["SH01"]}

    async def released() -> int:
        async with stack.sessions() as session:
            found = await session.scalar(text("SELECT count(*) FROM outbound_orders"))
            return int(found or 0)

    await _stack.until(released, lambda n: n >= count, "packages released", within=300, interval=1)
    for wave in ok(await api.post(f"/v1/warehouses/{warehouse}/waves/plan", headers=manager), 200)[
        "waves"
    ]:
        await _floor.pick_wave(api, device, wave["wave_no"])
    async with httpx.AsyncClient(base_url=stack.carrier, timeout=30) as carrier:
        for number in numbers:
            order = ok(await api.get(f"/v1/orders/{number}", headers=SHOP), 200)
            package_no = order["packages"][0]["package_no"]
            path = f"/v1/packages/{package_no}"
            await _stack.until(
                lambda p=path: _json(api.get(p, headers=device)),
                lambda v: v["status"] == "picked",
                f"{path} picked",
                within=120,
                interval=0.3,
            )
            shown = ok(await api.get(path, headers=device), 200)
            body = {"measured_weight_g": shown["expected_weight_g"]}
            ok(await api.post(f"{path}/pack", headers=device, json=body), 200)
            waybill = await _stack.until(
                lambda p=path: _json(api.get(p, headers=device)),
                lambda v: v["status"] == "waybill_created",
                f"{path} waybill",
                within=120,
                interval=0.3,
            )
            ok(await api.post(f"{path}/handover", headers=device), 200)
            for code in ("picked_up", "delivered"):
                event = f"/_sandbox/tracking/{waybill['tracking_no']}/events"
                ok(await carrier.post(event, json={"code": code}), 201)
    for number in numbers:
        await _stack.until(
            lambda n=number: _json(api.get(f"/v1/orders/{n}", headers=SHOP)),
            lambda v: v["status"] == "delivered",
            f"{number} delivered",
            within=120,
            interval=0.3,
        )
    return numbers


async def _json(call: Any) -> dict[str, Any]:
    return ok(await call, 200)


async def after_sale(
    api: httpx.AsyncClient, carrier: httpx.AsyncClient, cs: dict[str, str], number: str
) -> float:
    """One return-and-refund end to end (the customer's parcel followed at the carrier until
    it arrives); returns its seconds."""
    began = time.perf_counter()
    device = {"X-API-Key": DEMO_DEVICE_KEYS["SH01"]}
    body = {
        "client_request_key": f"bench-{number}",
        "type": "return_and_refund",
        "lines": [{"line_no": 1, "quantity": 1}],
        "reason": "benchmark",
    }
    opened = ok(await api.post(f"/v1/orders/{number}/after-sales", headers=SHOP, json=body), 201)
    path = f"/v1/after-sales/{opened['as_no']}"

    async def shown() -> dict[str, Any]:
        answer = await api.get(path, headers=cs)
        return answer.json() if answer.status_code == 200 else {"status": "-"}

    def status_is(*wanted: str) -> Any:
        return lambda v: v["status"] in wanted

    poll = {"within": 120.0, "interval": 0.1}
    await _stack.until(shown, status_is("requested"), f"{path} projected", **poll)
    ok(await api.post(f"{path}/decision", headers=cs, json={"approve": True}), 200)
    await _stack.until(shown, status_is("awaiting_return"), f"{path} awaiting return", **poll)
    sent = {"package_key": f"return-{number}", "carrier_service": "standard", "weight_g": 500}
    party = {"name": "顾客", "phone": "13800000000", "region_code": "310115", "address": "上海"}
    parcel = ok(
        await carrier.post("/v1/waybills", json={**sent, "sender": party, "receiver": party}), 201
    )
    back = {"carrier_code": "SF", "tracking_no": parcel["tracking_no"]}
    ok(await api.post(f"{path}/return-shipment", headers=SHOP, json=back), 200)
    for code in ("picked_up", "delivered"):
        ok(
            await carrier.post(
                f"/_sandbox/tracking/{back['tracking_no']}/events", json={"code": code}
            ),
            201,
        )
    inbound = {"lines": [{"line_no": 1, "sellable": 1, "damaged": 0}]}
    ok(await api.post(f"{path}/inbound", headers=device, json=inbound), 200)
    await _stack.until(shown, status_is("refunded"), f"{path} refunded", **poll)
    return time.perf_counter() - began


async def run(args: argparse.Namespace) -> list[tuple[str, ...]]:
    async with _stack.running_stack(after_sale_window_days=15) as stack:
        async with (
            httpx.AsyncClient(base_url=stack.api, timeout=120) as api,
            httpx.AsyncClient(base_url=stack.carrier, timeout=30) as carrier,
        ):
            say(f"[setup] {args.requests} delivered orders through the API")
            numbers = await delivered_orders(stack, api, args.requests)
            cs = {"Authorization": f"Bearer {await _floor.login(api, 'cs')}"}
            say(f"[run] {args.requests} after-sales, {args.concurrency} in flight")
            gate = asyncio.Semaphore(args.concurrency)

            async def one(number: str) -> float:
                async with gate:
                    return await after_sale(api, carrier, cs, number)

            began = time.perf_counter()
            seconds = await asyncio.gather(*(one(n) for n in numbers))
            elapsed = time.perf_counter() - began
        broken = await _stack.invariant_violations(stack.sessions)
    return [
        (
            f"after-sales/s end to end, {args.concurrency} in flight",
            f"{len(seconds) / elapsed:.2f}/s",
            "",
        ),
        (
            "one after-sale p50 / p99",
            f"{_figures.ms(percentile(seconds, 50))} / {_figures.ms(percentile(seconds, 99))}",
            "",
        ),
        ("stock ledgers balance", str(broken or "yes"), "MISSED" if broken else "met"),
    ]


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="10 after-sales instead of 40")
    p.add_argument("--requests", type=int, help="after-sales to run [40; quick 10]")
    p.add_argument("--concurrency", type=int, default=8, help="in flight at once [8]")
    args = p.parse_args(argv)
    args.requests = args.requests or (10 if args.quick else 40)
    return _figures.run_bench(run, args, ("figure", "houtai", ""))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
