"""Warehouse routes: warehouses, their region priorities and locations."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy import delete, select

from api.crud import apply_update, get_or_404
from api.deps import Principal, Session, Writer, forbid_outside, in_scope, require, writer
from api.errors import Problem, invalid
from api.pagination import Paging, fetch_page
from api.routing import Routes
from api.schemas.types import IdParam, TextParam
from api.schemas.warehouses import (
    LocationCreate,
    LocationPublic,
    LocationsPublic,
    LocationUpdate,
    RegionPriorities,
    RegionPriorityPublic,
    WarehouseCreate,
    WarehousePublic,
    WarehousesPublic,
    WarehouseUpdate,
)
from models.db import Location, Warehouse, WarehouseRegionPriority

router = Routes(prefix="/v1", tags=["warehouses"])
Reader = Annotated[Principal, Depends(require("warehouse.read"))]
Write = Annotated[Writer, Depends(writer("warehouse.write"))]


def _visible(principal: Principal, warehouse_id: int) -> None:
    if not principal.can_see_warehouse(warehouse_id):
        raise Problem(403, "devices see only their own warehouse", type_="/problems/forbidden")


async def _public(session: Session, warehouse: Warehouse) -> WarehousePublic:
    rows = await session.scalars(
        select(WarehouseRegionPriority)
        .where(WarehouseRegionPriority.warehouse_id == warehouse.id)
        .order_by(WarehouseRegionPriority.priority, WarehouseRegionPriority.region_code)
    )
    public = WarehousePublic.model_validate(warehouse)
    public.region_priorities = [RegionPriorityPublic.model_validate(r) for r in rows]
    return public


@router.get("/warehouses")
async def list_warehouses(session: Session, paging: Paging, who: Reader) -> WarehousesPublic:
    query = select(Warehouse).order_by(Warehouse.id)
    query = in_scope(who, query, Warehouse.id, None)
    rows, count = await fetch_page(session, query, paging)
    return WarehousesPublic(data=[await _public(session, r) for r in rows], count=count)


@router.post("/warehouses", status_code=201)
async def create_warehouse(body: WarehouseCreate, w: Write) -> WarehousePublic:
    if w.principal.warehouse_scope is not None:  # they would not see what they made
        raise Problem(
            403, "a user limited to warehouses cannot create one", type_="/problems/forbidden"
        )
    warehouse = Warehouse(**body.model_dump())
    w.session.add(warehouse)
    await w.session.flush()
    await w.commit("warehouse.create", "warehouse", warehouse.id)
    return await _public(w.session, warehouse)


@router.get("/warehouses/{warehouse_id}")
async def get_warehouse(warehouse_id: IdParam, session: Session, who: Reader) -> WarehousePublic:
    warehouse = await get_or_404(session, Warehouse, warehouse_id, "warehouse")
    _visible(who, warehouse_id)
    return await _public(session, warehouse)


@router.patch("/warehouses/{warehouse_id}")
async def update_warehouse(
    warehouse_id: IdParam, body: WarehouseUpdate, w: Write
) -> WarehousePublic:
    warehouse = await get_or_404(w.session, Warehouse, warehouse_id, "warehouse")
    forbid_outside(w.principal, warehouse_id)
    changes = apply_update(warehouse, body)
    await w.commit("warehouse.update", "warehouse", warehouse.id, changes)
    return await _public(w.session, warehouse)


@router.put("/warehouses/{warehouse_id}/region-priorities")
async def set_region_priorities(
    warehouse_id: IdParam, body: RegionPriorities, w: Write
) -> WarehousePublic:
    warehouse = await get_or_404(w.session, Warehouse, warehouse_id, "warehouse")
    forbid_outside(w.principal, warehouse_id)
    regions = [p.region_code for p in body.priorities]
    if len(regions) != len(set(regions)):
        raise invalid("priorities", "each region may appear once", "region_repeated")
    await w.session.execute(
        delete(WarehouseRegionPriority).where(WarehouseRegionPriority.warehouse_id == warehouse_id)
    )
    w.session.add_all(
        WarehouseRegionPriority(warehouse_id=warehouse_id, **p.model_dump())
        for p in body.priorities
    )
    await w.session.flush()
    await w.commit(
        "warehouse.region_priorities", "warehouse", warehouse_id, {"regions": len(regions)}
    )
    return await _public(w.session, warehouse)


@router.get("/warehouses/{warehouse_id}/locations")
async def list_locations(
    warehouse_id: IdParam,
    session: Session,
    paging: Paging,
    who: Reader,
    zone: TextParam | None = None,
    kind: TextParam | None = None,
    barcode: TextParam | None = None,
) -> LocationsPublic:
    await get_or_404(session, Warehouse, warehouse_id, "warehouse")
    _visible(who, warehouse_id)
    query = select(Location).where(Location.warehouse_id == warehouse_id)
    if zone:
        query = query.where(Location.zone == zone)
    if kind:
        query = query.where(Location.kind == kind)
    if barcode:  # a handheld resolving the location it scanned
        query = query.where(Location.barcode == barcode)
    query = query.order_by(Location.zone, Location.aisle, Location.bay, Location.level)
    rows, count = await fetch_page(session, query, paging)
    return LocationsPublic(data=[LocationPublic.model_validate(r) for r in rows], count=count)


@router.post("/warehouses/{warehouse_id}/locations", status_code=201)
async def create_location(warehouse_id: IdParam, body: LocationCreate, w: Write) -> LocationPublic:
    await get_or_404(w.session, Warehouse, warehouse_id, "warehouse")
    forbid_outside(w.principal, warehouse_id)
    location = Location(warehouse_id=warehouse_id, **body.model_dump())
    w.session.add(location)
    await w.session.flush()
    await w.commit("location.create", "location", location.id)
    return LocationPublic.model_validate(location)


@router.get("/locations/{location_id}")
async def get_location(location_id: IdParam, session: Session, who: Reader) -> LocationPublic:
    location = await get_or_404(session, Location, location_id, "location")
    _visible(who, location.warehouse_id)
    return LocationPublic.model_validate(location)


@router.patch("/locations/{location_id}")
async def update_location(location_id: IdParam, body: LocationUpdate, w: Write) -> LocationPublic:
    location = await get_or_404(w.session, Location, location_id, "location")
    forbid_outside(w.principal, location.warehouse_id)
    changes = apply_update(location, body)
    await w.commit("location.update", "location", location.id, changes)
    return LocationPublic.model_validate(location)
