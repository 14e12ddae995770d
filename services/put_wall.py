"""The put wall (DESIGN §6.4, issue 4 item 7): units of multi-line packages picked in a wave
are scanned one at a time and put into their package's slot. The unit goes to the first slot
(lowest number) that still waits for that SKU; a unit no slot of the wave waits for goes to the
exception tote. A slot with every unit in is complete: its package can be packed. The rules are
in models/domain/scans.py; here they meet the database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models.contracts import messages
from models.db import DeviceScan, PickAllocation, PutWallLine, PutWallSlot, Sku, Wave
from models.domain.scans import PickForbidden, slot_complete, unit_goes_on_wall
from services.picking import ScanOutcome, stored


async def put(
    session: AsyncSession,
    *,
    device: str,
    warehouse_id: int,
    wave_no: str,
    scan_id: str,
    sku_barcode: str,
) -> ScanOutcome:
    wave = await session.get(Wave, wave_no, with_for_update=True)  # one put at a time per wave
    if wave is None:
        raise LookupError(wave_no)
    if wave.warehouse_id != warehouse_id:
        raise PickForbidden(f"wave {wave_no} belongs to another warehouse")
    if (known := await stored(session, scan_id, "put", wave_no)) is not None:
        return known
    sku = await session.scalar(select(Sku).where(Sku.barcode == sku_barcode))
    line = None
    if sku is not None:
        line = await session.scalar(
            select(PutWallLine)
            .join(
                PutWallSlot,
                (PutWallSlot.wave_no == PutWallLine.wave_no)
                & (PutWallSlot.slot_no == PutWallLine.slot_no),
            )
            .where(
                PutWallLine.wave_no == wave_no,
                PutWallLine.sku_id == sku.id,
                PutWallLine.put < PutWallLine.expected,
                PutWallSlot.status == "sorting",
            )
            .order_by(PutWallLine.slot_no)
            .limit(1)
        )
    picked, put_ = (0, 0)
    if line is not None and sku is not None:
        picked, put_ = await _picked_and_put(session, wave_no, sku.id)
    if line is None or not unit_goes_on_wall(line.slot_no, picked, put_):
        body = {
            "scan_id": scan_id,
            "accepted": False,
            "action": "exception_tote",
            "detail": f"no package in wave {wave_no} waits for {sku_barcode}",
        }
        return await _keep(session, scan_id, device, wave_no, body)
    line.put += 1
    await session.flush()
    slot = await session.get(PutWallSlot, (wave_no, line.slot_no), with_for_update=True)
    assert slot is not None
    complete = slot_complete(await slot_waiting(session, wave_no, line.slot_no))
    if complete:
        slot.status = "complete"
    body = {
        "scan_id": scan_id,
        "accepted": True,
        "action": "put",
        "slot_no": line.slot_no,
        "package_no": slot.package_no,
        "slot_complete": complete,
        "next": {"action": "pack", "package_no": slot.package_no} if complete else None,
    }
    answer = await _keep(session, scan_id, device, wave_no, body)
    if complete:
        answer.milestone, answer.wave_no = messages.PACKAGE_SORTED, wave_no
    return answer


async def slot_waiting(session: AsyncSession, wave_no: str, slot_no: int) -> int:
    return int(
        await session.scalar(
            select(func.coalesce(func.sum(PutWallLine.expected - PutWallLine.put), 0)).where(
                PutWallLine.wave_no == wave_no, PutWallLine.slot_no == slot_no
            )
        )
        or 0
    )


async def _picked_and_put(session: AsyncSession, wave_no: str, sku_id: int) -> tuple[int, int]:
    """Units of the SKU the wave picked for its put-wall packages, and units already put."""
    picked = await session.scalar(
        select(func.coalesce(func.sum(PickAllocation.picked), 0)).where(
            PickAllocation.wave_no == wave_no,
            PickAllocation.sku_id == sku_id,
            PickAllocation.package_no.in_(
                select(PutWallSlot.package_no).where(PutWallSlot.wave_no == wave_no)
            ),
        )
    )
    put = await session.scalar(
        select(func.coalesce(func.sum(PutWallLine.put), 0)).where(
            PutWallLine.wave_no == wave_no, PutWallLine.sku_id == sku_id
        )
    )
    return int(picked or 0), int(put or 0)


async def _keep(
    session: AsyncSession, scan_id: str, device: str, wave_no: str, body: dict[str, Any]
) -> ScanOutcome:
    """A put is never refused: a unit no slot waits for is answered with the exception tote."""
    session.add(
        DeviceScan(
            scan_id=scan_id,
            device=device,
            kind="put",
            ref_no=wave_no,
            status_code=DeviceScan.outcome_code(refused=False),
            response=body,
        )
    )
    await session.flush()
    return ScanOutcome(dict(body))
