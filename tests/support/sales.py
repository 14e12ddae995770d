"""Sales made through the real services for the sales report's tests (tests/activities,
tests/console, tests/browser): orders recorded as the order workflow records them
(services.orders, after services.reservations reserved them), paid and refunded through
services.payments, shipped through services.reservations (its sales_out rows carry the cost)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from models.contracts.order import (
    PackageLine,
    PackagePlan,
    PaymentReceived,
    PlaceOrderRequest,
    Quote,
    RecordOrderRequest,
    RecordPaymentRequest,
    RefundRequest,
    ShippingAddress,
)
from models.contracts.pricing import DemandLine, PricedLine
from services import orders, payments, reservations


async def skus(session: AsyncSession) -> list[tuple[int, int, int]]:
    """Two plain SKUs stocked only in SH01 with room to sell: (sku, category, warehouse)."""
    rows = await session.execute(
        text(
            "SELECT s.sku_id, p.category_id, s.warehouse_id FROM stocks s"
            " JOIN warehouses w ON w.id = s.warehouse_id JOIN skus k ON k.id = s.sku_id"
            " JOIN spus p ON p.id = k.spu_id"
            " WHERE w.code = 'SH01' AND NOT k.batch_managed"
            " AND s.on_hand - s.reserved - s.safety_hold >= 10"
            " AND s.sku_id IN (SELECT sku_id FROM stocks GROUP BY sku_id HAVING count(*) = 1)"
            " ORDER BY s.sku_id LIMIT 2"
        )
    )
    found = [(int(a), int(b), int(c)) for a, b, c in rows]
    assert len(found) == 2
    return found


async def storefront(session: AsyncSession) -> int:
    key = await session.scalar(
        text("SELECT id FROM api_keys WHERE role = 'storefront' ORDER BY id LIMIT 1")
    )
    assert key is not None
    return int(key)


def line(no: int, sku: int, category: int, qty: int, price: int, discount: int) -> PricedLine:
    return PricedLine(
        line_no=no, sku_id=sku, category_id=category, quantity=qty, unit_price_fen=price,
        list_amount_fen=qty * price, discount_fen=discount, paid_fen=qty * price - discount,
    )  # fmt: skip


async def order(
    session: AsyncSession,
    order_no: str,
    shop: int,
    region: str,
    lines: list[PricedLine],
    freight: int,
    placed_at: datetime,
) -> list[str]:
    """Reserve, then record the order as the order workflow does; its package numbers."""
    held = await reservations.reserve(
        session,
        order_no,
        region,
        [DemandLine(line_no=x.line_no, sku_id=x.sku_id, quantity=x.quantity) for x in lines],
    )
    plans: dict[str, PackagePlan] = {}
    for r in held:
        plan = plans.setdefault(
            r.package_no,
            PackagePlan(package_no=r.package_no, warehouse_id=r.warehouse_id, lines=[]),
        )
        plan.lines.append(PackageLine(line_no=r.line_no, sku_id=r.sku_id, quantity=r.quantity))
    goods = sum(x.list_amount_fen for x in lines)
    discount = sum(x.discount_fen for x in lines)
    quote = Quote(
        lines=lines, discounts=[], coupon_id=None, goods_list_fen=goods, discount_fen=discount,
        goods_paid_fen=goods - discount, freight_fen=freight,
        payable_fen=goods - discount + freight, packages=list(plans.values()),
    )  # fmt: skip
    address = ShippingAddress(
        name="张三", phone="13800000000", region_code=region, detail="路 1 号"
    )
    placed = PlaceOrderRequest(
        order_no=order_no, storefront="demo", api_key_id=shop, customer_id=1, lines=[],
        address=address,
    )  # fmt: skip
    await orders.record_order(
        session,
        RecordOrderRequest(
            order_no=order_no,
            placed=placed,
            quote=quote,
            packages=quote.packages,
            payment_deadline=placed_at + timedelta(minutes=30),
            placed_at=placed_at,
            under_review=False,
        ),
    )
    await session.commit()
    return list(plans)


async def pay(session: AsyncSession, order_no: str, amount: int) -> None:
    payment = PaymentReceived(
        provider="mockpay", transaction_id=f"TX-{order_no}", payment_id=f"PAY-{order_no}",
        amount_fen=amount, currency="CNY", paid_at=datetime.now(UTC),
    )  # fmt: skip
    await payments.record_payment(
        session, RecordPaymentRequest(order_no=order_no, payment=payment, accepted=True)
    )
    await session.commit()


async def refund(session: AsyncSession, order_no: str, refund_no: str, amount: int) -> None:
    await payments.record_refund(
        session,
        RefundRequest(
            order_no=order_no,
            refund_no=refund_no,
            payment_id=f"PAY-{order_no}",
            transaction_id=f"TX-{order_no}",
            amount_fen=amount,
            reason="退差价",
        ),
        f"P{refund_no}",
    )
    await session.commit()


async def ship(session: AsyncSession, order_no: str, packages: list[str]) -> int:
    shipped = 0
    for package in packages:
        shipped += await reservations.ship(session, order_no, package)
    await session.commit()
    return shipped
