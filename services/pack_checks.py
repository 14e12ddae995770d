"""The pack station's unit check (复核, DESIGN §6.9), in PostgreSQL: what a package's box must
hold (what the wave picked for it, else its lines) and how many of each SKU have been scanned in.
A service: called by the routes (api/routes/pack_station.py, api/routes/packages.py)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from models.db import Package, PackageLine, PackCheck, PickAllocation, Sku


class CheckLine(BaseModel):
    sku_id: int
    sku_code: str
    sku_name: str
    sku_barcode: str
    quantity: int
    scanned: int


class CheckView(BaseModel):
    package_no: str
    status: str
    lines: list[CheckLine]
    complete: bool = Field(description="every unit is in the box: the pack may print")


async def check_view(session: AsyncSession, package: Package) -> dict[str, Any]:
    rows = await session.execute(
        select(
            PackageLine.line_no, PackageLine.sku_id, PackageLine.quantity, Sku, PackCheck.scanned
        )
        .join(Sku, Sku.id == PackageLine.sku_id)
        .outerjoin(
            PackCheck,
            (PackCheck.package_no == PackageLine.package_no) & (PackCheck.sku_id == Sku.id),
        )
        .where(PackageLine.package_no == package.package_no)
        .order_by(PackageLine.line_no)
    )
    picked = await _picked_by_line(session, package.package_no)
    wanted: dict[int, CheckLine] = {}
    for line_no, sku_id, ordered, sku, scanned in rows:
        # What the wave picked goes in the box (a short line holds fewer units than ordered).
        quantity = ordered if picked is None else min(ordered, picked.get(line_no, 0))
        if quantity == 0:
            continue
        if sku_id in wanted:  # two lines of one SKU: one count
            wanted[sku_id].quantity += quantity
            continue
        wanted[sku_id] = CheckLine(
            sku_id=sku_id,
            sku_code=sku.code,
            sku_name=sku.name,
            sku_barcode=sku.barcode,
            quantity=quantity,
            scanned=scanned or 0,
        )
    lines = list(wanted.values())
    view = CheckView(
        package_no=package.package_no,
        status=package.status,
        lines=lines,
        complete=all(line.scanned == line.quantity for line in lines),
    )
    return view.model_dump(mode="json")


async def _picked_by_line(session: AsyncSession, package_no: str) -> dict[int, int] | None:
    """Units the floor picked for each line of the package; None when no wave allocated it."""
    rows = (
        await session.execute(
            select(PickAllocation.line_no, PickAllocation.picked, PickAllocation.status).where(
                PickAllocation.package_no == package_no
            )
        )
    ).all()
    if not rows:
        return None
    got: dict[int, int] = defaultdict(int)
    for line_no, units, status in rows:
        if status in ("picked", "short", "shipped"):
            got[line_no] += units
    return got


async def units_missing(session: AsyncSession, package: Package) -> int:
    """Units still to be scanned into the package's box."""
    view = await check_view(session, package)
    return sum(line["quantity"] - line["scanned"] for line in view["lines"])
