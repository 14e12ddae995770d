"""After-sale refunds on a presale's order (预售, DESIGN §6.3, §6.8) over the whole back office:
the order paid twice (a deposit, then the balance), so a refund goes on the balance's payment
first and the rest on the deposit's, each no more than it paid — the provider refuses a refund
larger than its payment. Both refunds are rows of the money ledger, and it balances."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select

from models.db import Payment, Refund
from tests.support.after_sale_api import open_after_sale, shown_as
from tests.support.flash_sales import list_price
from tests.support.invariants import unbalanced_orders
from tests.support.order_api import Json, skus_in, staff, view, wait_released
from tests.support.orders import deliver, eventually, pack_and_hand_over
from tests.support.presales import buy_presale, create_presale, ledger, pay_stage, wait_step
from tests.support.stack import Stack


async def delivered(api: httpx.AsyncClient, carrier: httpx.AsyncClient, order_no: str) -> Json:
    released = await wait_released(api, order_no)
    [parcel] = released["packages"]
    await deliver(carrier, await pack_and_hand_over(api, parcel))

    async def arrived() -> Json | None:
        shown = await view(api, order_no)
        return shown if shown["status"] == "delivered" else None

    found: Json = await eventually(arrived, f"{order_no} delivered")
    return found


async def refunded(api: httpx.AsyncClient, order_no: str, key: str, units: int) -> Json:
    as_no = await open_after_sale(api, order_no, key, "refund_only", [(1, units)])
    cs = await staff(api, "cs")
    decided = await api.post(
        f"/v1/after-sales/{as_no}/decision", headers=cs, json={"approve": True}
    )
    assert decided.status_code == 200, decided.text
    return await shown_as(api, as_no, "refunded")


async def test_after_sales_refund_a_presale_order_on_the_balance_then_the_deposit(
    stack: Stack, api: httpx.AsyncClient, provider: httpx.AsyncClient, carrier: httpx.AsyncClient
) -> None:
    ops = await staff(api, "ops")
    [sku] = await skus_in(stack, "SH01", only=True)
    price = await list_price(stack, sku) // 2
    unit_deposit = price - 1  # the deposit is nearly all: a unit's refund is more than the balance
    sale = await create_presale(
        api, ops, sku_id=sku, price_fen=price, deposit_fen=unit_deposit,
        # the order and its deposit before the window: room for a loaded machine
        opens_in=timedelta(seconds=20), lasts=timedelta(seconds=60), name="预售售后",
    )  # fmt: skip
    answer = await buy_presale(api, sale["id"], sku, customer_id=611, key="pre-as", quantity=2)
    assert answer.status_code == 201, answer.text
    order = answer.json()
    number, payable, freight = order["order_no"], order["payable_fen"], order["freight_fen"]
    deposit_fen, balance_fen = 2 * unit_deposit, payable - 2 * unit_deposit
    deposit = await pay_stage(api, provider, number)
    assert deposit["amount_fen"] == deposit_fen
    await wait_step(api, number, "balance_window_opened")
    balance = await pay_stage(api, provider, number)
    assert balance["amount_fen"] == balance_fen == 2 + freight
    await delivered(api, carrier, number)

    # One unit back: more than the balance paid, so the balance's payment refunds all it took
    # and the deposit's the rest.
    first = await refunded(api, number, "pre-as-1", 1)
    assert first["refund_fen"] == price > balance_fen
    # The other unit and the freight (the order complete): all of it on the deposit's payment.
    second = await refunded(api, number, "pre-as-2", 1)
    assert second["refund_fen"] == payable - price

    async with stack.sessions() as session:
        paid = dict(
            (await session.execute(
                select(Payment.amount_fen, Payment.transaction_id).where(Payment.order_no == number)
            )).all()
        )  # fmt: skip
        rows = (
            await session.execute(
                select(Refund.refund_no, Refund.transaction_id, Refund.amount_fen).where(
                    Refund.order_no == number
                )
            )
        ).all()
        assert await unbalanced_orders(session) == []
    on_deposit_txn, on_balance_txn = paid[deposit_fen], paid[balance_fen]
    assert {str(no): (txn, int(amount)) for no, txn, amount in rows} == {
        f"RF{first['as_no']}-B": (on_balance_txn, balance_fen),
        f"RF{first['as_no']}": (on_deposit_txn, price - balance_fen),
        f"RF{second['as_no']}": (on_deposit_txn, payable - price),
    }
    assert await ledger(stack, number) == [
        ("payment", deposit_fen),
        ("payment", balance_fen),
        ("refund", -balance_fen),
        ("refund", -(price - balance_fen)),
        ("refund", -(payable - price)),
    ]
    shown = await view(api, number)
    assert (shown["paid_fen"], shown["refunded_fen"]) == (payable, payable)
