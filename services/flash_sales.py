"""Flash sales (秒杀, DESIGN §6.8) on the stock ledger: carve the campaign's stock out of
sellable at opening and give what is unsold back at closing; the gate that claims units for an
order is services/flash_gate.py; an order's reservation taken from the campaign's hold; and
an order's release, which gives its units back to the campaign while it is open.

Stock: the campaign holds its units in `stocks.reserved` of its SKU and warehouse (`held`),
each change a `reservation`/`release` movement with ref_type `flash_sale`, so `reserved = Σ
movements` holds throughout. Locks are taken sale row first, then stock rows: the gate, the
order's reserve and release, and closing all agree, so none waits on another in a circle."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.contracts.flash_sale import FlashFigures, FlashWindow
from models.contracts.pricing import DemandLine
from models.db import FlashBuyer, FlashClaim, FlashSale, Order, Reservation, Stock, StockMovement
from models.domain.warehouse_choice import OutOfStockError
from services import reservations
from services.stock_ledger import sellable_units

PAID_STATUSES = ("paid", "fulfilling", "delivered", "completed", "closed")


class FlashSaleError(Exception):
    """A flash sale cannot do what was asked (e.g. stop one already closed)."""


async def flash_number(session: AsyncSession) -> str:
    seq = int(await session.scalar(select(func.nextval("flash_sale_no_seq"))) or 0)
    return f"FS{seq:08d}"


def figures_of(sale: FlashSale) -> FlashFigures:
    return FlashFigures(
        flash_sale_id=sale.id,
        status=sale.status,
        total=sale.total,
        sold=sale.sold,
        held=sale.held,
        returned=sale.returned,
    )


# --- opening and closing --------------------------------------------------------------------


async def _locked_sale(session: AsyncSession, flash_sale_id: int) -> FlashSale:
    sale = await session.scalar(
        select(FlashSale).where(FlashSale.id == flash_sale_id).with_for_update()
    )
    if sale is None:
        raise FlashSaleError(f"flash sale {flash_sale_id} does not exist")
    return sale


async def _move(
    session: AsyncSession, sale: FlashSale, delta: int, ref_no: str, key: str, actor: str
) -> None:
    """The campaign's hold in stocks.reserved changes by `delta`, one movement row."""
    if delta == 0:
        return
    await session.execute(
        update(Stock)
        .where(Stock.sku_id == sale.sku_id, Stock.warehouse_id == sale.warehouse_id)
        .values(reserved=Stock.reserved + delta)
    )
    session.add(
        StockMovement(
            movement_type="reservation" if delta > 0 else "release",
            sku_id=sale.sku_id,
            warehouse_id=sale.warehouse_id,
            reserved_delta=delta,
            ref_type="flash_sale",
            ref_no=ref_no,
            actor=actor,
            idempotency_key=key,
        )
    )


async def open_sale(
    session: AsyncSession, flash_sale_id: int, workflow_id: str, actor: str
) -> FlashFigures:
    """Carve the campaign's units out of sellable (as many as there are, up to the planned
    number). Once: a sale already open or closed answers its figures."""
    sale = await _locked_sale(session, flash_sale_id)
    if sale.status != "scheduled":
        return figures_of(sale)
    sellable = await session.scalar(
        select(sellable_units())
        .where(Stock.sku_id == sale.sku_id, Stock.warehouse_id == sale.warehouse_id)
        .with_for_update(of=Stock)
    )
    carved = max(0, min(sale.planned, int(sellable or 0)))
    await _move(session, sale, carved, sale.flash_no, f"flash-open:{sale.flash_no}", actor)
    sale.total = sale.held = carved
    sale.status = "open"
    sale.workflow_id = workflow_id or sale.workflow_id
    sale.opened_at = datetime.now(UTC)
    await session.flush()
    return figures_of(sale)


async def window(session: AsyncSession, flash_sale_id: int) -> FlashWindow:
    """The sale's status and the id of the workflow that opened it (none before it opened)."""
    sale = await session.get(FlashSale, flash_sale_id)
    if sale is None:
        raise LookupError(f"flash sale {flash_sale_id} does not exist")
    return FlashWindow.model_validate({"status": sale.status, "workflow_id": sale.workflow_id})


async def close_sale(
    session: AsyncSession, flash_sale_id: int, actor: str, reason: str
) -> FlashFigures:
    """Close the sale: what no order claimed goes back to sellable. Units claimed by orders not
    yet reserved stay held for them (they are theirs). Once."""
    sale = await _locked_sale(session, flash_sale_id)
    if sale.status == "closed":
        return figures_of(sale)
    pending = int(
        await session.scalar(
            select(func.coalesce(func.sum(FlashClaim.quantity), 0)).where(
                FlashClaim.flash_sale_id == sale.id, FlashClaim.status == "claimed"
            )
        )
        or 0
    )
    back = sale.held - pending
    await _move(session, sale, -back, sale.flash_no, f"flash-close:{sale.flash_no}", actor)
    sale.held = pending
    sale.returned += back
    sale.status = "closed"
    sale.closed_at = datetime.now(UTC)
    sale.closed_by = actor[:100]
    sale.close_reason = reason[:200]
    await session.flush()
    return figures_of(sale)


# --- the order's side -----------------------------------------------------------------------


async def flash_price(session: AsyncSession, order_no: str, flash_sale_id: int) -> dict[int, int]:
    """{sku_id: unit price in fen} the order claimed in that flash sale (empty if none)."""
    found = await session.get(FlashClaim, order_no)
    if found is None or found.flash_sale_id != flash_sale_id:
        return {}
    return {found.sku_id: found.price_fen}


async def reserve_claimed(
    session: AsyncSession, order_no: str, lines: list[DemandLine], actor: str = "system:order"
) -> list[Reservation]:
    """The order's flash units move from the campaign's hold to the order's reservation: a
    release of the campaign and a reservation of the order, `reserved` unchanged. Idempotent."""
    done = await reservations.existing(session, order_no)
    if done:
        return done
    found = await session.get(FlashClaim, order_no)
    if found is None:
        raise OutOfStockError({line.sku_id: line.quantity for line in lines})
    sale = await _locked_sale(session, found.flash_sale_id)
    found = await session.scalar(
        select(FlashClaim).where(FlashClaim.order_no == order_no).with_for_update()
    )
    assert found is not None
    wanted = [(line.line_no, line.sku_id, line.quantity) for line in lines]
    if found.status != "claimed" or wanted != [(1, found.sku_id, found.quantity)]:
        raise OutOfStockError({line.sku_id: line.quantity for line in lines})
    await _move(
        session, sale, -found.quantity, order_no, f"flash-take:{order_no}", actor
    )  # out of the campaign …
    sale.held -= found.quantity
    package_no = reservations.package_number(order_no, 1)
    await session.execute(  # … into the order's reservation (units the campaign carved)
        update(Stock)
        .where(Stock.sku_id == sale.sku_id, Stock.warehouse_id == sale.warehouse_id)
        .values(reserved=Stock.reserved + found.quantity)
    )
    session.add_all(
        [
            Reservation(
                order_no=order_no,
                line_no=1,
                warehouse_id=sale.warehouse_id,
                sku_id=sale.sku_id,
                quantity=found.quantity,
                package_no=package_no,
            ),
            StockMovement(
                movement_type="reservation",
                sku_id=sale.sku_id,
                warehouse_id=sale.warehouse_id,
                reserved_delta=found.quantity,
                ref_type="order",
                ref_no=order_no,
                actor=actor,
                idempotency_key=f"reserve:{package_no}:1",
            ),
        ]
    )
    found.status = "reserved"
    await session.flush()
    return await reservations.existing(session, order_no)


async def release_order(
    session: AsyncSession, order_no: str, reason: str, actor: str = "system:order"
) -> int:
    """Release the order's reservations; a flash order's units go back to its campaign while it
    is open (the next buyer may claim them), to sellable once it has closed. Returns the units
    released from the order's own reservations."""
    found = await session.get(FlashClaim, order_no)
    if found is None or found.status == "released":
        return await reservations.release(session, order_no, reason, actor=actor)
    sale = await _locked_sale(session, found.flash_sale_id)
    found = await session.scalar(
        select(FlashClaim).where(FlashClaim.order_no == order_no).with_for_update()
    )
    assert found is not None
    units = await reservations.release(session, order_no, reason, actor=actor)
    if found.status == "released":
        return units
    back_to_campaign = sale.status == "open"
    if found.status == "reserved" and back_to_campaign:
        await _move(session, sale, found.quantity, order_no, f"flash-back:{order_no}", actor)
        sale.held += found.quantity
    elif found.status == "claimed" and not back_to_campaign:
        # Never reserved, and the campaign closed meanwhile: its held unit goes to sellable.
        await _move(session, sale, -found.quantity, order_no, f"flash-free:{order_no}", actor)
        sale.held -= found.quantity
        sale.returned += found.quantity
    sale.sold -= found.quantity
    await session.execute(
        update(FlashBuyer)
        .where(
            FlashBuyer.flash_sale_id == sale.id,
            FlashBuyer.customer_id == found.customer_record_id,
        )
        .values(bought=FlashBuyer.bought - found.quantity)
    )
    found.status = "released"
    found.released_at = datetime.now(UTC)
    found.returned_to = "campaign" if back_to_campaign else "stock"
    await session.flush()
    return units


async def release_unstarted(
    session: AsyncSession, order_no: str, actor: str = "system:order"
) -> bool:
    """The units of a claim whose order never started (its Update-with-Start failed and no
    workflow has that id) go back, to the campaign while it is open, so the next buyer may take
    them. Only a claim still `claimed`: one its order has reserved belongs to a running order,
    which gives it back itself. Should the order start after all, its reserve finds the claim
    released and refuses the order: nothing is sold twice. True if units went back."""
    found = await session.get(FlashClaim, order_no)
    if found is None or found.status != "claimed":
        return False
    await _locked_sale(session, found.flash_sale_id)
    found = await session.scalar(
        select(FlashClaim)
        .where(FlashClaim.order_no == order_no)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if found is None or found.status != "claimed":
        return False
    await release_order(session, order_no, "the order never started", actor=actor)
    return True


# --- what staff watch -----------------------------------------------------------------------


@dataclass(frozen=True)
class LiveFigures:
    total: int
    sold: int
    remaining: int
    held: int
    returned: int
    paid_orders: int
    paid_units: int
    unpaid_orders: int
    unpaid_units: int
    released_orders: int
    released_units: int


async def live_figures(session: AsyncSession, sale: FlashSale) -> LiveFigures:
    """Sold, remaining, paid against unpaid, released, from the claims and their orders."""
    rows = (
        await session.execute(
            select(
                FlashClaim.status,
                Order.status,
                func.count(),
                func.coalesce(func.sum(FlashClaim.quantity), 0),
            )
            .outerjoin(Order, Order.order_no == FlashClaim.order_no)
            .where(FlashClaim.flash_sale_id == sale.id)
            .group_by(FlashClaim.status, Order.status)
        )
    ).all()
    counts = {"paid": [0, 0], "unpaid": [0, 0], "released": [0, 0]}
    for status, order_status, orders, units in rows:
        paid = order_status in PAID_STATUSES
        kind = "released" if status == "released" else "paid" if paid else "unpaid"
        counts[kind][0] += int(orders)
        counts[kind][1] += int(units)
    return LiveFigures(
        total=sale.total if sale.status != "scheduled" else sale.planned,
        sold=sale.sold,
        remaining=max(0, sale.total - sale.sold) if sale.status == "open" else 0,
        held=sale.held,
        returned=sale.returned,
        paid_orders=counts["paid"][0],
        paid_units=counts["paid"][1],
        unpaid_orders=counts["unpaid"][0],
        unpaid_units=counts["unpaid"][1],
        released_orders=counts["released"][0],
        released_units=counts["released"][1],
    )
