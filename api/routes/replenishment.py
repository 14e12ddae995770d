"""Replenishment routes: purchasing sets reorder rules, ops and purchasing see what is low, and
staff can run a warehouse's replenishment now instead of waiting for its schedule."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Depends
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from api.deps import (
    Deps,
    Principal,
    Session,
    Writer,
    forbid_outside,
    in_scope,
    require,
    writer,
)
from api.errors import invalid, not_found
from api.routing import Routes
from api.schemas.purchasing import (
    LowStockPublic,
    ReorderRuleIn,
    ReorderRulePublic,
    ReplenishedPublic,
)
from api.schemas.types import IdParam
from api.workflow_calls import answer
from models.contracts.purchasing import ReplenishInput
from models.db import ReorderRule, Sku, Warehouse
from services.replenishment import below_reorder_point
from workflows.replenishment import ReplenishmentWorkflow

router = Routes(tags=["purchasing"])


@router.put("/v1/reorder-rules")
async def set_reorder_rule(
    body: ReorderRuleIn, w: Annotated[Writer, Depends(writer("purchase.write"))]
) -> ReorderRulePublic:
    if body.reorder_level < body.reorder_point:
        raise invalid(
            "reorder_level",
            "the reorder level must be at least the reorder point",
            "reorder_level_below_point",
        )
    if await w.session.get(Sku, body.sku_id) is None:
        raise invalid(
            "sku_id", f"SKU {body.sku_id} does not exist", "unknown_sku", sku_id=body.sku_id
        )
    if await w.session.get(Warehouse, body.warehouse_id) is None:
        raise invalid(
            "warehouse_id",
            f"warehouse {body.warehouse_id} does not exist",
            "unknown_warehouse",
            warehouse_id=body.warehouse_id,
        )
    forbid_outside(w.principal, body.warehouse_id)
    values = body.model_dump()
    await w.session.execute(
        insert(ReorderRule)
        .values(**values)
        .on_conflict_do_update(
            index_elements=["sku_id", "warehouse_id"],
            set_={k: values[k] for k in ("reorder_point", "reorder_level")},
        )
    )
    await w.commit("reorder_rule.set", "sku", body.sku_id, values)
    return ReorderRulePublic(**values)


@router.get("/v1/reorder-rules")
async def list_reorder_rules(
    session: Session,
    who: Annotated[Principal, Depends(require("purchase.read"))],
    warehouse_id: IdParam | None = None,
) -> list[ReorderRulePublic]:
    query = select(ReorderRule).order_by(ReorderRule.warehouse_id, ReorderRule.sku_id)
    query = in_scope(who, query, ReorderRule.warehouse_id, warehouse_id)
    return [ReorderRulePublic.model_validate(r) for r in await session.scalars(query)]


@router.get("/v1/stock/low")
async def low_stock(
    session: Session,
    who: Annotated[Principal, Depends(require("purchase.read"))],
    warehouse_id: IdParam | None = None,
) -> list[LowStockPublic]:
    """SKUs whose sellable + in transit is below their reorder point: the alert list."""
    if warehouse_id is not None:
        forbid_outside(who, warehouse_id)
    rows = (await session.execute(below_reorder_point(warehouse_id))).mappings()
    seen = [LowStockPublic.model_validate(dict(r)) for r in rows]
    return [r for r in seen if who.can_see_warehouse(r.warehouse_id)]


@router.post("/v1/warehouses/{warehouse_id}/replenish")
async def replenish_now(
    warehouse_id: IdParam, deps: Deps, w: Annotated[Writer, Depends(writer("purchase.write"))]
) -> ReplenishedPublic:
    warehouse = await w.session.get(Warehouse, warehouse_id)
    if warehouse is None:
        raise not_found("warehouse", warehouse_id)
    forbid_outside(w.principal, warehouse_id)
    code = warehouse.code
    await w.session.commit()  # never hold a connection while waiting for the workflow
    drafted = await answer(
        deps.require_temporal().execute_workflow(
            ReplenishmentWorkflow.run,
            ReplenishInput(
                warehouse_id=warehouse_id, po_timings=deps.po_timings, po_policy=deps.po_policy
            ),
            id=f"replenish-{code}-now-{uuid.uuid4().hex[:8]}",
            task_queue=deps.task_queue,
        ),
        kind="warehouse",
        ident=str(warehouse_id),
    )
    await w.commit("warehouse.replenish", "warehouse", warehouse_id, {"drafted": drafted})
    return ReplenishedPublic(warehouse_id=warehouse_id, drafted=drafted)
