"""Purchase order routes: purchasing drafts and submits, managers and finance approve, the
receiving warehouse (staff or its devices) books deliveries, purchasing closes short.

Each PO is a PurchaseOrderWorkflow (`po-PO…`); reads come from its projection."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, TypeVar
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.workflow import UpdateMethodMultiParam

from api.deps import (
    AppDeps,
    Principal,
    Session,
    Writer,
    app_deps,
    forbid_outside,
    require,
    writer,
)
from api.errors import Problem, invalid, not_found
from api.pagination import Paging, fetch_page
from api.routes.orders import actor_of
from api.schemas.purchasing import (
    ApproveIn,
    PoCreate,
    PoEventPublic,
    PoLinePublic,
    PoPublic,
    PosPublic,
    PoSummary,
    PoTotals,
    ReceiptIn,
    ReceiptPublic,
    RejectIn,
)
from api.schemas.types import IdParam, NoParam, TextParam
from api.workflow_calls import UPDATE_RPC_TIMEOUT, answer
from models.contracts.purchasing import (
    CloseRequest,
    Decision,
    PurchaseOrderInput,
    ReceiveRequest,
    Staff,
)
from models.db import (
    Location,
    PurchaseOrder,
    PurchaseOrderEvent,
    PurchaseOrderLine,
    PurchaseReceipt,
    PurchaseReceiptLine,
    Sku,
    Supplier,
    SupplierProduct,
    Warehouse,
)
from models.domain.purchasing import PoLine, Receipt, ReceiptExtra, ReceiptLine
from workflows.purchase_order import PurchaseOrderWorkflow

router = APIRouter(prefix="/v1/purchase-orders", tags=["purchasing"])
A = TypeVar("A")
T = TypeVar("T")
Deps = Annotated[AppDeps, Depends(app_deps)]
Reader = Annotated[Principal, Depends(require("purchase.read"))]
BUSINESS_TZ = ZoneInfo("Asia/Shanghai")
PoSort = Literal["-created_at", "created_at", "-amount_fen", "amount_fen"]


def staff_of(who: Principal) -> Staff:
    return Staff(actor=actor_of(who), user_id=who.id, roles=who.roles)


async def po_public(session: AsyncSession, po_no: str) -> PoPublic:
    po = await session.get(PurchaseOrder, po_no, populate_existing=True)
    if po is None:
        raise not_found("purchase order", po_no)
    lines = (
        await session.scalars(
            select(PurchaseOrderLine)
            .where(PurchaseOrderLine.po_no == po_no)
            .order_by(PurchaseOrderLine.line_no)
            .execution_options(populate_existing=True)
        )
    ).all()
    events = (
        await session.scalars(
            select(PurchaseOrderEvent)
            .where(PurchaseOrderEvent.po_no == po_no)
            .order_by(PurchaseOrderEvent.at, PurchaseOrderEvent.idempotency_key)
        )
    ).all()
    receipts = (
        await session.scalars(
            select(PurchaseReceipt.receipt_no)
            .where(PurchaseReceipt.po_no == po_no)
            .order_by(PurchaseReceipt.receipt_no)
        )
    ).all()
    extras = await session.scalar(
        select(func.coalesce(func.sum(PurchaseReceiptLine.accepted), 0))
        .join(PurchaseReceipt)
        .where(PurchaseReceipt.po_no == po_no, PurchaseReceiptLine.line_no.is_(None))
    )
    shown = [
        PoLinePublic(
            line_no=ln.line_no,
            sku_id=ln.sku_id,
            warehouse_id=ln.warehouse_id,
            quantity=ln.quantity,
            unit_price_fen=ln.unit_price_fen,
            received=ln.received,
            accepted=ln.accepted,
            rejected=ln.rejected,
            returned=ln.returned,
            open=max(0, ln.quantity - ln.accepted),
        )
        for ln in lines
    ]
    totals = PoTotals(
        **{k: sum(getattr(ln, k) for ln in shown) for k in ("received", "accepted", "rejected")},
        ordered=sum(ln.quantity for ln in shown),
        returned=sum(ln.returned for ln in shown),
        open=sum(ln.open for ln in shown),
        extras=int(extras or 0),
    )
    return PoPublic(
        po_no=po.po_no,
        supplier_id=po.supplier_id,
        status=po.status,
        amount_fen=po.amount_fen,
        note=po.note,
        required_roles=po.required_roles,
        approvals=po.approvals,
        reminded=po.reminded,
        escalated=po.escalated,
        close_reason=po.close_reason,
        created_at=po.created_at,
        lines=shown,
        totals=totals,
        receipts=list(receipts),
        timeline=[PoEventPublic.model_validate(e) for e in events],
    )


async def _po_lines(session: AsyncSession, body: PoCreate) -> list[PoLine]:
    """Only an approved supplier's own products, for warehouses that exist, once each."""
    supplier = await session.get(Supplier, body.supplier_id)
    if supplier is None:
        raise invalid("supplier_id", f"supplier {body.supplier_id} does not exist")
    if supplier.status != "approved":
        raise Problem(409, f"supplier {supplier.code} is {supplier.status}, not approved")
    offered = {
        p.sku_id: p
        for p in await session.scalars(
            select(SupplierProduct).where(SupplierProduct.supplier_id == supplier.id)
        )
    }
    warehouses = set(await session.scalars(select(Warehouse.id)))
    seen: set[tuple[int, int]] = set()
    lines: list[PoLine] = []
    for n, line in enumerate(body.lines):
        if line.sku_id not in offered:
            raise invalid(f"lines.{n}.sku_id", f"SKU {line.sku_id} is not a product of "
                          f"supplier {supplier.code}")  # fmt: skip
        if line.warehouse_id not in warehouses:
            raise invalid(f"lines.{n}.warehouse_id", f"warehouse {line.warehouse_id} unknown")
        if (line.sku_id, line.warehouse_id) in seen:
            raise invalid(f"lines.{n}", "each SKU once per warehouse: merge the quantities")
        seen.add((line.sku_id, line.warehouse_id))
        price = line.unit_price_fen
        lines.append(
            PoLine(
                line_no=n + 1,
                sku_id=line.sku_id,
                warehouse_id=line.warehouse_id,
                quantity=line.quantity,
                unit_price_fen=offered[line.sku_id].supply_price_fen if price is None else price,
            )
        )
    return lines


@router.post("", status_code=201)
async def create_po(
    body: PoCreate, deps: Deps, w: Annotated[Writer, Depends(writer("purchase.write"))]
) -> PoPublic:
    session = w.session
    for line in body.lines:  # a buyer limited to warehouses buys for those only
        forbid_outside(w.principal, line.warehouse_id)
    lines = await _po_lines(session, body)
    seq = int(await session.scalar(select(func.nextval("po_no_seq"))) or 0)
    po_no = f"PO{datetime.now(BUSINESS_TZ):%Y%m%d}{seq:06d}"
    session.add(
        PurchaseOrder(
            po_no=po_no,
            supplier_id=body.supplier_id,
            amount_fen=sum(ln.quantity * ln.unit_price_fen for ln in lines),
            created_by=w.principal.id,
            note=body.note,
            required_roles=[],
            approvals={},
        )
    )
    await session.flush()
    session.add_all(PurchaseOrderLine(po_no=po_no, **ln.model_dump()) for ln in lines)
    await w.commit("purchase_order.create", "purchase_order", po_no, {"lines": len(lines)})
    await answer(
        deps.require_temporal().start_workflow(
            PurchaseOrderWorkflow.run,
            PurchaseOrderInput(
                po_no=po_no,
                supplier_id=body.supplier_id,
                created_by=staff_of(w.principal),
                lines=lines,
                timings=deps.po_timings,
                policy=deps.po_policy,
                note=body.note,
            ),
            id=f"po-{po_no}",
            task_queue=deps.task_queue,
        ),
        kind="purchase order",
        ident=po_no,
    )
    return await po_public(session, po_no)


@router.get("")
async def list_pos(
    session: Session,
    _: Reader,
    paging: Paging,
    status: Annotated[TextParam | None, Query(max_length=20)] = None,
    supplier_id: IdParam | None = None,
    escalated: bool | None = None,
    sort: Annotated[
        PoSort, Query(description="column to sort by; a leading `-` sorts descending")
    ] = "-created_at",
) -> PosPublic:
    by = PurchaseOrder.amount_fen if sort.endswith("amount_fen") else PurchaseOrder.created_at
    query = select(PurchaseOrder).order_by(
        by.desc() if sort.startswith("-") else by.asc(), PurchaseOrder.po_no
    )
    for column, value in (
        (PurchaseOrder.status, status),
        (PurchaseOrder.supplier_id, supplier_id),
        (PurchaseOrder.escalated, escalated),
    ):
        if value is not None:
            query = query.where(column == value)
    rows, count = await fetch_page(session, query, paging)
    return PosPublic(data=[PoSummary.model_validate(r) for r in rows], count=count)


@router.get("/{po_no}")
async def get_po(po_no: NoParam, session: Session, _: Reader) -> PoPublic:
    return await po_public(session, po_no)


async def po_update(
    w: Writer,
    deps: AppDeps,
    po_no: str,
    method: UpdateMethodMultiParam[[PurchaseOrderWorkflow, A], T],
    arg: A,
) -> T:
    if await w.session.get(PurchaseOrder, po_no) is None:
        raise not_found("purchase order", po_no)
    await w.session.commit()  # never hold a connection while waiting for the workflow
    handle = deps.require_temporal().get_workflow_handle(f"po-{po_no}")
    return await answer(
        handle.execute_update(method, arg, rpc_timeout=UPDATE_RPC_TIMEOUT),
        kind="purchase order",
        ident=po_no,
    )


@router.post("/{po_no}/submit")
async def submit_po(
    po_no: NoParam, deps: Deps, w: Annotated[Writer, Depends(writer("purchase.write"))]
) -> PoPublic:
    await po_update(w, deps, po_no, PurchaseOrderWorkflow.submit, staff_of(w.principal))
    await w.commit("purchase_order.submit", "purchase_order", po_no)
    return await po_public(w.session, po_no)


@router.post("/{po_no}/approve")
async def approve_po(
    po_no: NoParam,
    body: ApproveIn,
    deps: Deps,
    w: Annotated[Writer, Depends(writer("purchase.approve"))],
) -> PoPublic:
    po = await w.session.get(PurchaseOrder, po_no)
    if po is None:
        raise not_found("purchase order", po_no)
    role = body.role
    if role is None:  # the one required role this user holds and nobody has approved yet
        mine = sorted(set(po.required_roles) & w.principal.roles - set(po.approvals))
        if len(mine) != 1:
            raise invalid("role", f"say which role you approve as (open for you: {mine})")
        role = mine[0]
    decision = Decision(by=staff_of(w.principal), role=role)
    await po_update(w, deps, po_no, PurchaseOrderWorkflow.approve, decision)
    await w.commit("purchase_order.approve", "purchase_order", po_no, {"role": role})
    return await po_public(w.session, po_no)


async def _with_reason(
    w: Writer,
    deps: AppDeps,
    po_no: str,
    method: UpdateMethodMultiParam[[PurchaseOrderWorkflow, A], T],
    arg: A,
    action: str,
    reason: str,
) -> PoPublic:
    """Reject, cancel, close short: an update with the person's reason, audited with it."""
    await po_update(w, deps, po_no, method, arg)
    await w.commit(f"purchase_order.{action}", "purchase_order", po_no, {"reason": reason})
    return await po_public(w.session, po_no)


@router.post("/{po_no}/reject")
async def reject_po(
    po_no: NoParam,
    body: RejectIn,
    deps: Deps,
    w: Annotated[Writer, Depends(writer("purchase.approve"))],
) -> PoPublic:
    decision = Decision(by=staff_of(w.principal), reason=body.reason)
    reject = PurchaseOrderWorkflow.reject
    return await _with_reason(w, deps, po_no, reject, decision, "reject", body.reason)


@router.post("/{po_no}/cancel")
async def cancel_po(
    po_no: NoParam,
    body: RejectIn,
    deps: Deps,
    w: Annotated[Writer, Depends(writer("purchase.write"))],
) -> PoPublic:
    decision = Decision(by=staff_of(w.principal), reason=body.reason)
    cancel = PurchaseOrderWorkflow.cancel
    return await _with_reason(w, deps, po_no, cancel, decision, "cancel", body.reason)


@router.post("/{po_no}/close")
async def close_po(
    po_no: NoParam,
    body: RejectIn,
    deps: Deps,
    w: Annotated[Writer, Depends(writer("purchase.write"))],
) -> PoPublic:
    request = CloseRequest(by=staff_of(w.principal), reason=body.reason)
    close = PurchaseOrderWorkflow.close_short
    return await _with_reason(w, deps, po_no, close, request, "close", body.reason)


@router.post("/{po_no}/receipts", status_code=201)
async def receive(
    po_no: NoParam,
    body: ReceiptIn,
    deps: Deps,
    w: Annotated[Writer, Depends(writer("purchase.receive"))],
) -> ReceiptPublic:
    if not w.principal.can_see_warehouse(body.warehouse_id):
        raise Problem(
            403, "devices receive only in their own warehouse", type_="/problems/forbidden"
        )
    location = await w.session.get(Location, body.location_id)
    if location is None or location.warehouse_id != body.warehouse_id:
        raise invalid("location_id", f"location {body.location_id} is not in that warehouse")
    if not body.lines and not body.extras:
        raise invalid("lines", "a receipt needs lines or extras")
    parts = [(f"lines.{n}", p.sku_id, p.batch_no) for n, p in enumerate(body.lines)]
    parts += [(f"extras.{n}", p.sku_id, p.batch_no) for n, p in enumerate(body.extras)]
    batch_managed = set(
        await w.session.scalars(
            select(Sku.id).where(Sku.id.in_([sku for _, sku, _ in parts]), Sku.batch_managed)
        )
    )
    for where, sku, batch_no in parts:
        if sku in batch_managed and not batch_no:
            raise invalid(f"{where}.batch_no", f"SKU {sku} is batch-managed")
    receipt = Receipt(
        lines=tuple(ReceiptLine(**line.model_dump()) for line in body.lines),
        extras=tuple(ReceiptExtra(**extra.model_dump()) for extra in body.extras),
    )
    request = ReceiveRequest(
        receipt_key=body.receipt_key,
        warehouse_id=body.warehouse_id,
        location_id=body.location_id,
        receipt=receipt,
        actor=actor_of(w.principal),
    )
    result = await po_update(w, deps, po_no, PurchaseOrderWorkflow.receive, request)
    await w.commit(
        "purchase_order.receive", "purchase_order", po_no, {"receipt_no": result.receipt_no}
    )
    return ReceiptPublic(
        receipt_no=result.receipt_no,
        receipt_key=result.receipt_key,
        duplicate=result.duplicate,
        po=await po_public(w.session, po_no),
    )
