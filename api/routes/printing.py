"""Printing (DESIGN §6.4, issue 4 item 9): the pick list of a task in route order, the packing
slip (what is in the box; units a short pick did not find listed apart, "short / to follow")
and the shipping label of a package, as PDF with Code 128 barcodes. Everything printed
comes from what is stored — a reprint is the same document, and a label never calls the
carrier (no waybill yet → 409)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Principal, Session, forbid_outside, require
from api.errors import Problem, conflict, not_found
from api.routes.picking import own_task
from api.routing import Routes
from api.schemas.types import NoParam
from models.db import (
    Carrier,
    Location,
    Order,
    OrderEvent,
    Package,
    PackageLine,
    PickStop,
    Reservation,
    Sku,
    StockCount,
    StockCountLocation,
    Warehouse,
)
from models.documents import (
    CountSheet,
    CountSheetLocation,
    PackingLine,
    PackingSlip,
    PickList,
    ShippingLabel,
    count_sheet_pdf,
    packing_slip_pdf,
    pick_list_pdf,
    shipping_label_pdf,
)
from models.documents import (
    PickStop as PrintedStop,
)

router = Routes(tags=["printing"])
PDF: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
        "description": "the document",
    },
    409: {"description": "nothing to print yet (nothing left to pick, no waybill yet)"},
}


class PdfResponse(Response):
    """A PDF answer: the document declares application/pdf, not FastAPI's default JSON."""

    media_type = "application/pdf"


def _pdf(body: bytes, name: str) -> Response:
    return PdfResponse(body, headers={"Content-Disposition": f'inline; filename="{name}.pdf"'})


@router.get("/v1/pick-tasks/{task_no}/pick-list.pdf", responses=PDF, response_class=PdfResponse)
async def pick_list(
    task_no: NoParam, session: Session, who: Annotated[Principal, Depends(require("waves.read"))]
) -> Response:
    task = await own_task(session, who, task_no)
    rows = await session.execute(
        select(PickStop, Location.code, Sku.code, Sku.name)
        .join(Location, Location.id == PickStop.location_id)
        .join(Sku, Sku.id == PickStop.sku_id)
        .where(PickStop.task_no == task_no, PickStop.status != "cancelled")
        .order_by(PickStop.stop_no)
    )
    stops = tuple(
        PrintedStop(
            location_code=location,
            sku_code=sku_code,
            sku_name=sku_name,
            batch_no=stop.batch_no or None,
            quantity=stop.quantity,
        )
        for stop, location, sku_code, sku_name in rows
    )
    if not stops:
        raise conflict(f"task {task_no} has nothing left to pick")
    warehouse = await session.get(Warehouse, task.warehouse_id)
    assert warehouse is not None
    document = PickList(
        task_no=task.task_no,
        wave_no=task.wave_no,
        warehouse_code=warehouse.code,
        device=task.claimed_by,
        route_name=task.route_name,
        route_length_cm=task.route_cm,
        stops=stops,
    )
    return _pdf(pick_list_pdf(document), task_no)


async def _package(session: AsyncSession, who: Principal, package_no: str) -> tuple[Package, Order]:
    package = await session.get(Package, package_no)
    if package is None:
        raise not_found("package", package_no)
    if not who.can_see_warehouse(package.warehouse_id):
        raise Problem(403, "devices act only in their own warehouse", type_="/problems/forbidden")
    order = await session.get(Order, package.order_no)
    assert order is not None
    return package, order


@router.get("/v1/packages/{package_no}/packing-slip.pdf", responses=PDF, response_class=PdfResponse)
async def packing_slip(
    package_no: NoParam,
    session: Session,
    who: Annotated[Principal, Depends(require("packages.read"))],
) -> Response:
    _, order = await _package(session, who, package_no)
    lines, short = await _box(session, package_no)
    if not lines:
        raise conflict(f"package {package_no} has nothing to pack: no unit of it was found")
    document = PackingSlip(
        package_no=package_no,
        order_no=order.order_no,
        customer_name=str(order.address.get("name", "")),
        address=str(order.address.get("detail", "")),
        lines=lines,
        short=short,
        printed_at=await _released_at(session, package_no) or order.placed_at,
    )
    return _pdf(packing_slip_pdf(document), f"{package_no}-slip")


async def _box(
    session: AsyncSession, package_no: str
) -> tuple[tuple[PackingLine, ...], tuple[PackingLine, ...]]:
    """What is in the box and what was ordered but is not. A line's reservation holds exactly
    the units that will ship: a short pick releases what no other location could give (and a
    re-allocation keeps it held), so a line released in full has nothing in the box."""
    rows = await session.execute(
        select(PackageLine.quantity, Reservation.quantity, Reservation.status, Sku.code, Sku.name)
        .join(Sku, Sku.id == PackageLine.sku_id)
        .outerjoin(
            Reservation,
            (Reservation.package_no == PackageLine.package_no)
            & (Reservation.line_no == PackageLine.line_no),
        )
        .where(PackageLine.package_no == package_no)
        .order_by(PackageLine.line_no)
    )
    lines: list[PackingLine] = []
    short: list[PackingLine] = []
    for ordered, held, status, code, name in rows:
        boxed = ordered if status is None else held if status in ("held", "consumed") else 0
        if boxed:
            lines.append(PackingLine(sku_code=code, sku_name=name, quantity=boxed))
        if ordered > boxed:
            short.append(PackingLine(sku_code=code, sku_name=name, quantity=ordered - boxed))
    return tuple(lines), tuple(short)


@router.get("/v1/packages/{package_no}/label.pdf", responses=PDF, response_class=PdfResponse)
async def shipping_label(
    package_no: NoParam,
    session: Session,
    who: Annotated[Principal, Depends(require("packages.read"))],
) -> Response:
    package, order = await _package(session, who, package_no)
    if not package.waybill_no or not package.tracking_no:
        raise conflict(f"package {package_no} has no waybill yet (it is {package.status})")
    carrier = await session.scalar(select(Carrier).where(Carrier.code == package.carrier_code))
    warehouse = await session.get(Warehouse, package.warehouse_id)
    assert warehouse is not None
    document = ShippingLabel(
        carrier_code=package.carrier_code,
        carrier_name=carrier.name if carrier else package.carrier_code,
        waybill_no=package.waybill_no,
        tracking_no=package.tracking_no,
        recipient_name=str(order.address.get("name", "")),
        recipient_phone=str(order.address.get("phone", "")),
        address=str(order.address.get("detail", "")),
        sender_warehouse=warehouse.name,
        weight_g=package.measured_weight_g or package.expected_weight_g,
        package_no=package_no,
        order_no=order.order_no,
    )
    return _pdf(shipping_label_pdf(document), f"{package_no}-label")


async def _released_at(session: AsyncSession, package_no: str) -> datetime | None:
    return await session.scalar(
        select(OrderEvent.at)
        .where(OrderEvent.package_no == package_no, OrderEvent.step == "released")
        .order_by(OrderEvent.id)
        .limit(1)
    )


@router.get("/v1/counts/{count_no}/count-sheet.pdf", responses=PDF, response_class=PdfResponse)
async def count_sheet(
    count_no: NoParam, session: Session, who: Annotated[Principal, Depends(require("stock.read"))]
) -> Response:
    """The blind count sheet (盘点表) of a stock count: its locations with their barcodes and
    blank columns to write the counted units in; no book figure is printed."""
    count = await session.get(StockCount, count_no)
    if count is None:
        raise not_found("stock count", count_no)
    forbid_outside(who, count.warehouse_id)
    rows = await session.execute(
        select(Location.code, Location.barcode)
        .join(StockCountLocation, StockCountLocation.location_id == Location.id)
        .where(StockCountLocation.count_no == count_no)
        .order_by(Location.code)
    )
    warehouse = await session.get(Warehouse, count.warehouse_id)
    assert warehouse is not None
    document = CountSheet(
        count_no=count.count_no,
        warehouse_code=warehouse.code,
        created_by=count.created_by,
        locations=tuple(CountSheetLocation(code=code, barcode=bc) for code, bc in rows),
    )
    return _pdf(count_sheet_pdf(document), count_no)
