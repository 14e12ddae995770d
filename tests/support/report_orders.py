"""A hand-computed data set for the orders and after-sales reports (tests/api, tests/console,
tests/browser): orders of two storefronts written through the order, shipment and timeline
services (placed, paid, handed over, completed, cancelled of each kind) and after-sales with a
decision in time, one late (auto-approved) and a refund. Business days 2026-11-29 … 12-02
(Asia/Shanghai): a week (Mon 11-30) and a month (12-01) boundary inside."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from core.db import SessionFactory
from models.contracts.order import Actor, OrderStatus, StatusChange
from models.contracts.shipment import ShipmentStep
from models.db import AfterSale, AfterSaleLine, ApiKey, Order, OrderLine, Package, Sku
from services import orders, shipments
from services.timeline import add_event

CST = timezone(timedelta(hours=8))
SYSTEM = Actor(kind="system", name="order")
SHOP_ACTOR = Actor(kind="storefront", name="shop")
CS = Actor(kind="user", name="cs-1")
QUALITY, UNWANTED = "质量问题", "不想要了"


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in Asia/Shanghai: day 29, 30 of November, 1, 2 of December 2026."""
    month = 11 if day >= 29 else 12
    return datetime(2026, month, day, hour, minute, tzinfo=CST)


@dataclass
class DataSet:
    shop_a: int
    shop_b: int
    sku_x: int
    sku_y: int
    sh: int
    gz: int


async def _order(
    session_factory: SessionFactory,
    no: str,
    shop: int,
    placed: datetime,
    lines: list[tuple[int, int]],
) -> None:
    async with session_factory() as session:
        session.add(
            Order(
                order_no=no,
                api_key_id=shop,
                customer_id=1,
                status="awaiting_payment",
                region_code="310000",
                address={},
                goods_list_fen=0,
                discount_fen=0,
                freight_fen=0,
                payable_fen=0,
                pricing={},
                payment_deadline=placed,
                placed_at=placed,
            )
        )
        await session.flush()
        for n, (sku, qty) in enumerate(lines, 1):
            session.add(OrderLine(order_no=no, line_no=n, sku_id=sku, quantity=qty,
                                  unit_price_fen=1000, list_amount_fen=1000 * qty,
                                  discount_fen=0, paid_fen=1000 * qty))  # fmt: skip
        await add_event(session, order_no=no, step="placed", actor=SHOP_ACTOR,
                        key=f"{no}:placed", at=placed)  # fmt: skip
        await session.commit()


async def step(
    session_factory: SessionFactory,
    no: str,
    name: str,
    when: datetime,
    actor: Actor = SYSTEM,
    reason: str | None = None,
) -> None:
    """A step of the order through the order's projection service (as its activity would)."""
    statuses: dict[str, OrderStatus] = {"paid": "paid", "completed": "completed",
                                        "cancelled": "cancelled"}  # fmt: skip
    status = statuses.get(name, "fulfilling")
    async with session_factory() as session:
        await orders.record_status(
            session,
            StatusChange(
                order_no=no,
                status=status,
                step=name,
                key=f"{name}-{when:%d%H%M}",
                seq=int(when.timestamp()),
                at=when,
                actor=actor,
                detail={"reason": reason} if reason else {},
            ),
        )
        await session.commit()


async def handed_over(
    session_factory: SessionFactory, no: str, package: str, warehouse: int, when: datetime
) -> None:
    """The package handed to the carrier (its shipment's `shipped` step)."""
    async with session_factory() as session:
        if await session.get(Package, package) is None:
            session.add(Package(package_no=package, order_no=no, warehouse_id=warehouse,
                                status="packed", carrier_code="SF", expected_weight_g=500,
                                tracking_events=[]))  # fmt: skip
            await session.flush()
        await shipments.record_step(
            session,
            ShipmentStep(order_no=no, package_no=package, status="shipped", step="shipped",
                         key="shipped", seq=9, at=when, actor=Actor(kind="device", name="pda")),
        )  # fmt: skip
        await session.commit()


async def after_sale(
    session_factory: SessionFactory,
    as_no: str,
    order_no: str,
    reason: str,
    requested: datetime,
    lines: list[tuple[int, int, int]],
) -> None:
    """An after-sale opened (its row, lines and `requested` step), SLA 48 h."""
    async with session_factory() as session:
        session.add(AfterSale(as_no=as_no, order_no=order_no, type="refund_only",
                              status="requested", reason=reason, evidence_urls=[], goods_fen=0,
                              freight_fen=0, refund_fen=0, requested_by="storefront:shop",
                              requested_at=requested, sla_due_at=requested + timedelta(hours=48),
                              last_progress_at=requested))  # fmt: skip
        await session.flush()
        for n, (sku, qty, fen) in enumerate(lines, 1):
            session.add(AfterSaleLine(as_no=as_no, line_no=n, sku_id=sku, quantity=qty,
                                      amount_fen=fen))  # fmt: skip
        await add_event(session, order_no=order_no, step="after_sale_requested",
                        actor=SHOP_ACTOR, key=f"{as_no}:001-requested",
                        detail={"as_no": as_no}, at=requested)  # fmt: skip
        await session.commit()


async def after_sale_step(
    session_factory: SessionFactory,
    as_no: str,
    order_no: str,
    name: str,
    when: datetime,
    amount_fen: int | None = None,
) -> None:
    detail: dict[str, object] = {"as_no": as_no}
    if amount_fen is not None:
        detail["amount_fen"] = amount_fen
    async with session_factory() as session:
        await add_event(session, order_no=order_no, step=f"after_sale_{name}", actor=CS,
                        key=f"{as_no}:{name}", detail=detail, at=when)  # fmt: skip
        await session.commit()


async def make_data_set(session_factory: SessionFactory, sku_x: int, sh: int, gz: int) -> DataSet:
    async with session_factory() as session:
        a = ApiKey(name="shop-a", prefix="rptA0001", key_hash="x" * 64, role="storefront")
        b = ApiKey(name="shop-b", prefix="rptB0001", key_hash="y" * 64, role="storefront")
        x = await session.get(Sku, sku_x)
        assert x is not None
        y = Sku(spu_id=x.spu_id, code="RPT-Y-250", name="坚果礼盒 250g", barcode="6999000000099",
                weight_g=260, volume_cm3=1500, list_price_fen=5900)  # fmt: skip
        session.add_all([a, b, y])
        await session.commit()
        data = DataSet(a.id, b.id, sku_x, y.id, sh, gz)
    x, y = data.sku_x, data.sku_y
    # O1 (A): placed and paid Sun 11-29, handed over Mon 11-30 60 min after paying, completed.
    await _order(session_factory, "SO1", data.shop_a, at(29, 23, 30), [(x, 2)])
    await step(session_factory, "SO1", "paid", at(29, 23, 50))
    await handed_over(session_factory, "SO1", "PK1", sh, at(30, 0, 50))
    await step(session_factory, "SO1", "completed", at(1, 10))
    # O2 (A): paid 11-30 10:05; one package from SH 10 min later, one from GZ a day later.
    await _order(session_factory, "SO2", data.shop_a, at(30, 10), [(x, 3), (y, 1)])
    await step(session_factory, "SO2", "paid", at(30, 10, 5))
    await handed_over(session_factory, "SO2", "PK2A", sh, at(30, 10, 15))
    await handed_over(session_factory, "SO2", "PK2B", gz, at(1, 10, 5))
    # O3 (A): the storefront cancels (its customer). O7 (A): customer service cancels.
    await _order(session_factory, "SO3", data.shop_a, at(30, 11), [(x, 1)])
    await step(session_factory, "SO3", "cancelled", at(30, 12), SHOP_ACTOR, "changed my mind")
    await _order(session_factory, "SO7", data.shop_a, at(30, 11), [(x, 1)])
    await step(session_factory, "SO7", "cancelled", at(30, 13), CS, "customer called")
    # O4 (B): not paid by the deadline (cancelled on 12-01).
    await _order(session_factory, "SO4", data.shop_b, at(30, 20), [(y, 1)])
    await step(session_factory, "SO4", "cancelled", at(1, 0, 20), reason="payment deadline passed")
    # O5 (B): rejected by the risk reviewer.
    await _order(session_factory, "SO5", data.shop_b, at(1, 9), [(y, 5)])
    await step(session_factory, "SO5", "cancelled", at(1, 9, 30), CS, "risk review: fake address")
    # O6 (B): paid, its units not found, nothing delivered: out of stock.
    await _order(session_factory, "SO6", data.shop_b, at(1, 9), [(y, 1)])
    await step(session_factory, "SO6", "paid", at(1, 9, 10))
    await step(session_factory, "SO6", "short_refunded", at(1, 15))
    await step(session_factory, "SO6", "cancelled", at(1, 15, 1), reason="nothing was delivered")
    # After-sales: AS1 decided in 200 min (in time) and refunded 1,500 fen (1,000 + freight);
    # AS2 (two SKUs) auto-approved at the SLA's end (late); AS3 rejected after 30 min.
    await after_sale(session_factory, "AS1", "SO1", QUALITY, at(30, 9), [(x, 1, 1000)])
    await after_sale_step(session_factory, "AS1", "SO1", "approved", at(30, 12, 20))
    await after_sale_step(session_factory, "AS1", "SO1", "refunded", at(30, 13), 1500)
    await after_sale(session_factory, "AS2", "SO2", QUALITY, at(30, 10, 30),
                     [(x, 1, 900), (y, 1, 2000)])  # fmt: skip
    await after_sale_step(session_factory, "AS2", "SO2", "auto_approved", at(2, 10, 30))
    await after_sale(session_factory, "AS3", "SO2", UNWANTED, at(1, 8), [(y, 1, 2000)])
    await after_sale_step(session_factory, "AS3", "SO2", "rejected", at(1, 8, 30))
    return data
