"""Units taken out of a package before it is picked (issue 6 item 2: a refund-only after-sale
before shipment). One transaction under the package's outbound row lock, so a wave planner or a
device never sees half of it:

- a package still waiting for a wave gives up any of its units: its held reservations shrink
  (stock `reserved` falls, one `release` ledger row per line), and so do its package lines (what
  the wave picks and the packing slip prints);
- a package already in a wave gives up all of its units or none: it leaves the wave as a
  cancelled package does (what it holds at locations is freed, picked units go back);
- a package picked, short or cancelled gives up nothing (`refused` says why).

Idempotent per (after-sale, package): a retry after the commit finds its ledger rows and answers
what they say."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from models.contracts.order import PackageLine as Line
from models.contracts.shipment import UnitsWithdrawn, WithdrawRequest
from models.db import OutboundOrder, PackageLine, Reservation, Sku, StockMovement
from services import pick_stock, wave_progress
from services.stock_ledger import Document

OPEN_OUTBOUND = ("waiting", "planned")


def _key(request: WithdrawRequest, line_no: int) -> str:
    return f"withdraw:{request.as_no}:{request.package_no}:{line_no}"


async def withdraw(session: AsyncSession, request: WithdrawRequest) -> UnitsWithdrawn:
    outbound = await session.get(OutboundOrder, request.package_no, with_for_update=True)
    done = await _done(session, request)
    if done:  # a retry: the wave it left, if it was in one, is still on its outbound row
        left_wave = outbound.wave_no if outbound and outbound.status == "cancelled" else None
        return await _answer(session, request, done, wave_no=left_wave)
    refused = _refusal(outbound, request, await _held(session, request.package_no))
    if refused is not None:
        return UnitsWithdrawn(as_no=request.as_no, package_no=request.package_no, refused=refused)
    wave_no = outbound.wave_no if outbound is not None and outbound.status == "planned" else None
    if wave_no is not None:  # the whole package leaves its wave
        await wave_progress.cancel(session, request.package_no)
    taken = {line.line_no: line.quantity for line in request.lines}
    for held in await _held(session, request.package_no, lock=True):
        if taken.get(held.line_no):
            await _release(session, request, held, min(held.quantity, taken[held.line_no]))
    if outbound is not None and not await _held(session, request.package_no):
        outbound.status = "cancelled"
    await session.flush()
    return await _answer(session, request, await _done(session, request), wave_no=wave_no)


def _refusal(
    outbound: OutboundOrder | None, request: WithdrawRequest, held: Sequence[Reservation]
) -> str | None:
    if outbound is not None and outbound.status not in OPEN_OUTBOUND:
        return f"package {request.package_no} is {outbound.status}"
    if not held:
        return f"package {request.package_no} holds nothing any more"
    if outbound is not None and outbound.status == "planned":
        holding = {r.line_no: r.quantity for r in held}
        asked = {line.line_no: line.quantity for line in request.lines}
        if any(asked.get(no, 0) < units for no, units in holding.items()):
            return (
                f"package {request.package_no} is being picked in wave {outbound.wave_no}: "
                "only all of its units can be taken out now"
            )
    return None


async def _held(
    session: AsyncSession, package_no: str, *, lock: bool = False
) -> Sequence[Reservation]:
    query = (
        select(Reservation)
        .where(Reservation.package_no == package_no, Reservation.status == "held")
        .order_by(Reservation.sku_id, Reservation.line_no)
    )
    return (await session.scalars(query.with_for_update() if lock else query)).all()


async def _release(
    session: AsyncSession, request: WithdrawRequest, held: Reservation, units: int
) -> None:
    """Held units no longer reserved (a release row), and out of the package's lines."""
    doc = Document(
        ref_type="after_sale",
        ref_no=request.as_no,
        actor="system:after-sale",
        idempotency_key=_key(request, held.line_no),
    )
    reason = f"refunded before shipment: taken out of {request.package_no}"
    await pick_stock.unreserve(session, request.package_no, held.line_no, units, reason, doc)
    line = PackageLine.package_no == request.package_no, PackageLine.line_no == held.line_no
    await session.execute(
        update(PackageLine).where(*line).values(quantity=PackageLine.quantity - units)
    )
    await session.execute(delete(PackageLine).where(*line, PackageLine.quantity <= 0))


async def _done(session: AsyncSession, request: WithdrawRequest) -> dict[int, tuple[int, int]]:
    """(SKU, units) per line already taken out for this after-sale, from its ledger rows."""
    keys = [_key(request, line.line_no) for line in request.lines]
    rows = await session.execute(
        select(
            StockMovement.idempotency_key, StockMovement.sku_id, StockMovement.reserved_delta
        ).where(StockMovement.idempotency_key.in_(keys))
    )
    by_key = {key: (sku, -delta) for key, sku, delta in rows}
    return {
        line.line_no: by_key[_key(request, line.line_no)]
        for line in request.lines
        if _key(request, line.line_no) in by_key
    }


async def _answer(
    session: AsyncSession,
    request: WithdrawRequest,
    done: dict[int, tuple[int, int]],
    wave_no: str | None,
) -> UnitsWithdrawn:
    left = [
        Line(line_no=r.line_no, sku_id=r.sku_id, quantity=r.quantity)
        for r in sorted(await _held(session, request.package_no), key=lambda r: r.line_no)
    ]
    withdrawn = [Line(line_no=no, sku_id=sku, quantity=q) for no, (sku, q) in sorted(done.items())]
    weights = dict(
        (
            await session.execute(
                select(Sku.id, Sku.weight_g).where(Sku.id.in_({x.sku_id for x in withdrawn}))
            )
        ).all()
    )
    return UnitsWithdrawn(
        as_no=request.as_no,
        package_no=request.package_no,
        withdrawn=withdrawn,
        left=left,
        withdrawn_weight_g=sum(weights.get(x.sku_id, 0) * x.quantity for x in withdrawn),
        wave_no=wave_no,
    )
