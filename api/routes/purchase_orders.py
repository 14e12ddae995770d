"""Purchase order routes: purchasing drafts and submits, managers and finance approve, the
receiving warehouse (staff or its devices) books deliveries, purchasing closes short.

Each PO is a PurchaseOrderWorkflow (`po-PO…`); reads come from its projection."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, TypeVar

from fastapi import Depends, Query
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.workflow import UpdateMethodMultiParam

from api.deps import (
    AppDeps,
    Deps,
    Principal,
    Session,
    Writer,
    actor_of,
    forbid_outside,
    require,
    writer,
)
from api.errors import Problem, conflict, invalid, not_found
from api.pagination import Paging, fetch_page
from api.routing import Routes
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
from api.workflow_calls import PURCHASE_ORDER, answer, update
from models.contracts.purchasing import (
    CloseRequest,
    Decision,
    PurchaseOrderInput,
    ReceiveRequest,
    Staff,
)
from models.db import (
    PurchaseOrder,
    PurchaseOrderEvent,
    PurchaseOrderLine,
    PurchaseReceipt,
    PurchaseReceiptLine,
)
from models.domain.business_day import BUSINESS_TZ
from models.domain.purchasing import Receipt, ReceiptExtra, ReceiptLine
from services import purchasing
from services.purchasing import DraftLine, InvalidPoInput
from workflows.purchase_order import PurchaseOrderWorkflow

router = Routes(prefix="/v1/purchase-orders", tags=["purchasing"])
A = TypeVar("A")
T = TypeVar("T")
Reader = Annotated[Principal, Depends(require("purchase.read"))]
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


@router.post("", status_code=201)
async def create_po(
    body: PoCreate, deps: Deps, w: Annotated[Writer, Depends(writer("purchase.write"))]
) -> PoPublic:
    for line in body.lines:  # a buyer limited to warehouses buys for those only
        forbid_outside(w.principal, line.warehouse_id)
    try:
        po = await purchasing.create_po(
            w.session,
            supplier_id=body.supplier_id,
            lines=[DraftLine(**line.model_dump()) for line in body.lines],
            note=body.note,
            created_by=w.principal.id,
            today=datetime.now(BUSINESS_TZ).date(),
            expected_on=body.expected_on,
        )
    except purchasing.SupplierNotApproved as exc:
        raise conflict(
            str(exc), field="supplier_id", reason="supplier_not_approved", supplier=exc.supplier
        ) from exc
    except InvalidPoInput as exc:
        raise invalid(exc.field, exc.message, exc.code, **exc.ctx) from exc
    await w.commit("purchase_order.create", "purchase_order", po.po_no, {"lines": len(po.lines)})
    await answer(
        deps.require_temporal().start_workflow(
            PurchaseOrderWorkflow.run,
            PurchaseOrderInput(
                po_no=po.po_no,
                supplier_id=body.supplier_id,
                created_by=staff_of(w.principal),
                lines=po.lines,
                timings=deps.po_timings,
                policy=deps.po_policy,
                note=body.note,
            ),
            id=f"po-{po.po_no}",
            task_queue=deps.task_queue,
        ),
        kind="purchase order",
        ident=po.po_no,
    )
    return await po_public(w.session, po.po_no)


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
    """An update to a PO this database knows (404 before its workflow is asked)."""
    if await w.session.get(PurchaseOrder, po_no) is None:
        raise not_found("purchase order", po_no)
    await w.session.commit()  # never hold a connection while waiting for the workflow
    return await update(deps, PURCHASE_ORDER, po_no, method, arg)


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
        if not mine:
            raise invalid("role", "no role of yours is waiting to approve", "no_approval_open")
        if len(mine) != 1:
            raise invalid(
                "role",
                f"say which role you approve as (open for you: {mine})",
                "approval_role_unclear",
                roles=", ".join(mine),
            )
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
    receipt = Receipt(
        lines=tuple(ReceiptLine(**line.model_dump()) for line in body.lines),
        extras=tuple(ReceiptExtra(**extra.model_dump()) for extra in body.extras),
    )
    try:
        location_id = body.location_id or await purchasing.receiving_location(
            w.session, body.warehouse_id
        )
        await purchasing.check_receipt(
            w.session,
            warehouse_id=body.warehouse_id,
            location_id=location_id,
            receipt=receipt,
        )
    except InvalidPoInput as exc:
        raise invalid(exc.field, exc.message, exc.code, **exc.ctx) from exc
    request = ReceiveRequest(
        receipt_key=body.receipt_key,
        warehouse_id=body.warehouse_id,
        location_id=location_id,
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
