"""Carrier routes: carriers and their daily cutoffs per warehouse."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from sqlalchemy import delete, select

from api.crud import apply_update, check_refs, get_or_404
from api.deps import Session, Writer, require, writer
from api.pagination import Paging, fetch_page
from api.routing import Routes
from api.schemas.partners import (
    CarrierCreate,
    CarrierCutoffIn,
    CarrierCutoffPublic,
    CarrierPublic,
    CarriersPublic,
    CarrierUpdate,
)
from api.schemas.types import IdParam
from models.db import Carrier, CarrierCutoff, Warehouse

router = Routes(prefix="/v1/carriers", tags=["carriers"])
Read = Depends(require("carrier.read"))
Write = Annotated[Writer, Depends(writer("carrier.write"))]


async def _public(session: Session, carrier: Carrier) -> CarrierPublic:
    cutoffs = await session.scalars(
        select(CarrierCutoff)
        .where(CarrierCutoff.carrier_id == carrier.id)
        .order_by(CarrierCutoff.warehouse_id, CarrierCutoff.cutoff_local)
    )
    public = CarrierPublic.model_validate(carrier)
    public.cutoffs = [CarrierCutoffPublic.model_validate(c) for c in cutoffs]
    return public


async def _replace_cutoffs(w: Writer, carrier_id: int, cutoffs: list[CarrierCutoffIn]) -> None:
    for i, cutoff in enumerate(cutoffs):
        await check_refs(w.session, {f"cutoffs.{i}.warehouse_id": (Warehouse, cutoff.warehouse_id)})
    await w.session.execute(delete(CarrierCutoff).where(CarrierCutoff.carrier_id == carrier_id))
    unique = {(c.warehouse_id, c.cutoff_local) for c in cutoffs}
    w.session.add_all(
        CarrierCutoff(carrier_id=carrier_id, warehouse_id=wh, cutoff_local=t) for wh, t in unique
    )
    await w.session.flush()


@router.get("", dependencies=[Read])
async def list_carriers(session: Session, paging: Paging) -> CarriersPublic:
    rows, count = await fetch_page(session, select(Carrier).order_by(Carrier.id), paging)
    return CarriersPublic(data=[await _public(session, r) for r in rows], count=count)


@router.post("", status_code=201)
async def create_carrier(body: CarrierCreate, w: Write) -> CarrierPublic:
    carrier = Carrier(**body.model_dump(exclude={"cutoffs"}))
    w.session.add(carrier)
    await w.session.flush()
    await _replace_cutoffs(w, carrier.id, body.cutoffs)
    await w.commit("carrier.create", "carrier", carrier.id)
    return await _public(w.session, carrier)


@router.get("/{carrier_id}", dependencies=[Read])
async def get_carrier(carrier_id: IdParam, session: Session) -> CarrierPublic:
    return await _public(session, await get_or_404(session, Carrier, carrier_id, "carrier"))


@router.patch("/{carrier_id}")
async def update_carrier(carrier_id: IdParam, body: CarrierUpdate, w: Write) -> CarrierPublic:
    carrier = await get_or_404(w.session, Carrier, carrier_id, "carrier")
    if body.cutoffs is not None:
        await _replace_cutoffs(w, carrier_id, body.cutoffs)
    changes = apply_update(carrier, body, exclude={"cutoffs"})
    if body.cutoffs is not None:
        changes["cutoffs"] = len(body.cutoffs)
    await w.commit("carrier.update", "carrier", carrier.id, changes)
    return await _public(w.session, carrier)
