"""Transfer routes (调拨, DESIGN §6.9): staff request a transfer between two warehouses (the
units are reserved at the source at once), a warehouse manager of the source approves or
rejects it, the source ships it once its wave has picked it, and the destination (staff or its
devices) receives it. Each transfer is a TransferWorkflow (`transfer-TR…`); reads come from its
projection. The transfer note is a PDF with the number as Code 128."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, TypeVar

from fastapi import Depends, Query, Response
from sqlalchemy import or_, select
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
from api.routes.printing import PDF, PdfResponse
from api.routing import Routes
from api.schemas.transfers import (
    TransferCreate,
    TransferEventPublic,
    TransferLinePublic,
    TransferPublic,
    TransferReasonIn,
    TransferReceiptIn,
    TransfersPublic,
    TransferSummary,
)
from api.schemas.types import IdParam, NoParam, TextParam
from api.workflow_calls import TRANSFER, answer, update
from models.contracts.transfers import (
    ReceivedLine,
    ShipTransfer,
    TransferDecision,
    TransferInput,
    TransferReceipt,
    TransferStaff,
)
from models.db import Sku, Transfer, TransferEvent, TransferLine, Warehouse
from models.documents import TransferNote, TransferNoteLine, transfer_note_pdf
from models.domain.business_day import BUSINESS_TZ
from models.domain.warehouse_choice import OutOfStockError
from services import transfers
from services.transfers import InvalidTransfer
from workflows.transfer import TransferWorkflow

router = Routes(prefix="/v1/transfers", tags=["transfers"])
A = TypeVar("A")
T = TypeVar("T")
Reader = Annotated[Principal, Depends(require("transfers.read"))]
TransferSort = Literal["-created_at", "created_at", "-updated_at", "updated_at"]


def staff_of(who: Principal) -> TransferStaff:
    scope = who.warehouse_scope
    return TransferStaff(
        actor=actor_of(who),
        user_id=who.id,
        roles=who.roles,
        warehouses=None if scope is None else sorted(scope),
    )


async def visible(session: AsyncSession, who: Principal, transfer_no: str) -> Transfer:
    """The transfer, 404 unless the caller sees one of its two warehouses."""
    found = await session.get(Transfer, transfer_no, populate_existing=True)
    if found is None or not (
        who.can_see_warehouse(found.from_warehouse_id)
        or who.can_see_warehouse(found.to_warehouse_id)
    ):
        raise not_found("transfer", transfer_no)
    return found


async def transfer_public(session: AsyncSession, transfer_no: str) -> TransferPublic:
    found = await session.get(Transfer, transfer_no, populate_existing=True)
    if found is None:
        raise not_found("transfer", transfer_no)
    lines = (
        await session.execute(
            select(TransferLine, Sku)
            .join(Sku, Sku.id == TransferLine.sku_id)
            .where(TransferLine.transfer_no == transfer_no)
            .order_by(TransferLine.line_no)
            .execution_options(populate_existing=True)
        )
    ).all()
    events = (
        await session.scalars(
            select(TransferEvent)
            .where(TransferEvent.transfer_no == transfer_no)
            .order_by(TransferEvent.at, TransferEvent.idempotency_key)
        )
    ).all()
    return TransferPublic(
        transfer_no=found.transfer_no,
        from_warehouse_id=found.from_warehouse_id,
        to_warehouse_id=found.to_warehouse_id,
        status=found.status,
        carrier_code=found.carrier_code,
        note=found.note,
        reason=found.reason,
        wave_no=found.wave_no,
        receipt_key=found.receipt_key,
        created_at=found.created_at,
        updated_at=found.updated_at,
        lines=[
            TransferLinePublic(
                line_no=ln.line_no,
                sku_id=ln.sku_id,
                sku_code=sku.code,
                sku_name=sku.name,
                sku_barcode=sku.barcode,
                quantity=ln.quantity,
                picked=ln.picked,
                shipped=ln.shipped,
                good=ln.good,
                damaged=ln.damaged,
                short=ln.short,
                over=ln.over,
            )
            for ln, sku in lines
        ],
        timeline=[TransferEventPublic.model_validate(e) for e in events],
    )


@router.post("", status_code=201)
async def create_transfer(
    body: TransferCreate, deps: Deps, w: Annotated[Writer, Depends(writer("transfers.request"))]
) -> TransferPublic:
    who = w.principal
    if not (
        who.can_see_warehouse(body.from_warehouse_id) or who.can_see_warehouse(body.to_warehouse_id)
    ):
        forbid_outside(who, body.from_warehouse_id)
    try:
        made = await transfers.create_transfer(
            w.session,
            from_warehouse_id=body.from_warehouse_id,
            to_warehouse_id=body.to_warehouse_id,
            lines=[(line.sku_id, line.quantity) for line in body.lines],
            requested_by=who.id,
            note=body.note,
            today=datetime.now(BUSINESS_TZ).date(),
            request_key=body.request_key,
        )
    except InvalidTransfer as exc:
        raise invalid(exc.field, exc.message, exc.code, **exc.ctx) from exc
    except OutOfStockError as exc:
        raise Problem(
            409,
            f"the source cannot spare SKUs {exc.sku_ids}",
            type_="/problems/OutOfStockError",
            errors=[{"type": "OutOfStockError", "field": "lines", "sku_ids": exc.sku_ids}],
        ) from exc
    if made.existing:
        await w.session.commit()
        return await transfer_public(w.session, made.transfer_no)
    await w.commit("transfer.request", "transfer", made.transfer_no, {"lines": len(made.lines)})
    await answer(
        deps.require_temporal().start_workflow(
            TransferWorkflow.run,
            TransferInput(
                transfer_no=made.transfer_no,
                from_warehouse_id=body.from_warehouse_id,
                to_warehouse_id=body.to_warehouse_id,
                carrier_code=made.carrier_code,
                lines=made.lines,
                requested_by=staff_of(who),
                note=body.note,
            ),
            id=TRANSFER.workflow_id(made.transfer_no),
            task_queue=deps.task_queue,
        ),
        kind="transfer",
        ident=made.transfer_no,
    )
    return await transfer_public(w.session, made.transfer_no)


@router.get("")
async def list_transfers(
    session: Session,
    who: Reader,
    paging: Paging,
    status: Annotated[TextParam | None, Query(max_length=20)] = None,
    from_warehouse_id: IdParam | None = None,
    to_warehouse_id: IdParam | None = None,
    warehouse_id: Annotated[IdParam | None, Query(description="either side")] = None,
    q: Annotated[TextParam | None, Query(max_length=24, description="transfer number")] = None,
    sort: Annotated[
        TransferSort, Query(description="column to sort by; a leading `-` sorts descending")
    ] = "-created_at",
) -> TransfersPublic:
    by = Transfer.updated_at if sort.endswith("updated_at") else Transfer.created_at
    query = select(Transfer).order_by(
        by.desc() if sort.startswith("-") else by.asc(), Transfer.transfer_no
    )
    for column, value in (
        (Transfer.status, status),
        (Transfer.from_warehouse_id, from_warehouse_id),
        (Transfer.to_warehouse_id, to_warehouse_id),
    ):
        if value is not None:
            query = query.where(column == value)
    if warehouse_id is not None:
        query = query.where(
            or_(
                Transfer.from_warehouse_id == warehouse_id, Transfer.to_warehouse_id == warehouse_id
            )
        )
    if q:
        query = query.where(Transfer.transfer_no.startswith(q.upper(), autoescape=True))
    scope = who.warehouse_scope
    if scope is not None:
        mine = sorted(scope)
        query = query.where(
            or_(Transfer.from_warehouse_id.in_(mine), Transfer.to_warehouse_id.in_(mine))
        )
    rows, count = await fetch_page(session, query, paging)
    return TransfersPublic(data=[TransferSummary.model_validate(r) for r in rows], count=count)


@router.get("/{transfer_no}")
async def get_transfer(transfer_no: NoParam, session: Session, who: Reader) -> TransferPublic:
    await visible(session, who, transfer_no)
    return await transfer_public(session, transfer_no)


async def _update(
    w: Writer,
    deps: AppDeps,
    transfer_no: str,
    method: UpdateMethodMultiParam[[TransferWorkflow, A], T],
    arg: A,
    *,
    side: Literal["from", "to", "either"],
    update_id: str | None = None,
) -> T:
    """An update to a transfer the caller sees, acting for the side the command belongs to
    (403 outside it); 404 before the workflow is asked."""
    found = await visible(w.session, w.principal, transfer_no)
    if side == "from":
        forbid_outside(w.principal, found.from_warehouse_id)
    elif side == "to":
        forbid_outside(w.principal, found.to_warehouse_id)
    await w.session.commit()  # never hold a connection while waiting for the workflow
    return await update(deps, TRANSFER, transfer_no, method, arg, update_id=update_id)


@router.post("/{transfer_no}/approve")
async def approve_transfer(
    transfer_no: NoParam,
    deps: Deps,
    w: Annotated[Writer, Depends(writer("transfers.approve"))],
) -> TransferPublic:
    decision = TransferDecision(by=staff_of(w.principal))
    await _update(w, deps, transfer_no, TransferWorkflow.approve, decision, side="from")
    await w.commit("transfer.approve", "transfer", transfer_no)
    return await transfer_public(w.session, transfer_no)


@router.post("/{transfer_no}/reject")
async def reject_transfer(
    transfer_no: NoParam,
    body: TransferReasonIn,
    deps: Deps,
    w: Annotated[Writer, Depends(writer("transfers.approve"))],
) -> TransferPublic:
    decision = TransferDecision(by=staff_of(w.principal), reason=body.reason)
    await _update(w, deps, transfer_no, TransferWorkflow.reject, decision, side="from")
    await w.commit("transfer.reject", "transfer", transfer_no, {"reason": body.reason})
    return await transfer_public(w.session, transfer_no)


@router.post("/{transfer_no}/cancel")
async def cancel_transfer(
    transfer_no: NoParam,
    body: TransferReasonIn,
    deps: Deps,
    w: Annotated[Writer, Depends(writer("transfers.request"))],
) -> TransferPublic:
    decision = TransferDecision(by=staff_of(w.principal), reason=body.reason)
    await _update(w, deps, transfer_no, TransferWorkflow.cancel, decision, side="either")
    await w.commit("transfer.cancel", "transfer", transfer_no, {"reason": body.reason})
    return await transfer_public(w.session, transfer_no)


@router.post("/{transfer_no}/ship")
async def ship_transfer(
    transfer_no: NoParam,
    deps: Deps,
    w: Annotated[Writer, Depends(writer("transfers.ship"))],
) -> TransferPublic:
    request = ShipTransfer(by=actor_of(w.principal))
    await _update(w, deps, transfer_no, TransferWorkflow.ship, request, side="from")
    await w.commit("transfer.ship", "transfer", transfer_no)
    return await transfer_public(w.session, transfer_no)


@router.post("/{transfer_no}/receive")
async def receive_transfer(
    transfer_no: NoParam,
    body: TransferReceiptIn,
    deps: Deps,
    w: Annotated[Writer, Depends(writer("transfers.receive"))],
) -> TransferPublic:
    found = await visible(w.session, w.principal, transfer_no)
    forbid_outside(w.principal, found.to_warehouse_id)
    if found.receipt_key is not None:  # received (and closed): a resend gets the same answer
        if found.receipt_key != body.receipt_key:
            raise conflict(
                f"transfer {transfer_no} is received already",
                reason="transfer_received",
                transfer_no=transfer_no,
            )
        await w.session.commit()
        return await transfer_public(w.session, transfer_no)
    receipt = TransferReceipt(
        receipt_key=body.receipt_key,
        lines=[ReceivedLine(**line.model_dump()) for line in body.lines],
        actor=actor_of(w.principal),
    )
    await _update(
        w,
        deps,
        transfer_no,
        TransferWorkflow.receive,
        receipt,
        side="to",
        update_id=f"receive-{body.receipt_key}",
    )
    await w.commit("transfer.receive", "transfer", transfer_no, {"receipt_key": body.receipt_key})
    return await transfer_public(w.session, transfer_no)


@router.get("/{transfer_no}/note.pdf", responses=PDF, response_class=PdfResponse)
async def transfer_note(transfer_no: NoParam, session: Session, who: Reader) -> Response:
    await visible(session, who, transfer_no)
    shown = await transfer_public(session, transfer_no)
    codes = {
        w.id: w.code
        for w in await session.scalars(
            select(Warehouse).where(
                Warehouse.id.in_([shown.from_warehouse_id, shown.to_warehouse_id])
            )
        )
    }
    document = TransferNote(
        transfer_no=shown.transfer_no,
        from_warehouse=codes[shown.from_warehouse_id],
        to_warehouse=codes[shown.to_warehouse_id],
        status=shown.status,
        created_at=shown.created_at,
        lines=tuple(
            TransferNoteLine(
                sku_code=ln.sku_code,
                sku_name=ln.sku_name,
                quantity=ln.quantity,
                shipped=ln.shipped,
            )
            for ln in shown.lines
        ),
    )
    return PdfResponse(
        transfer_note_pdf(document),
        headers={"Content-Disposition": f'inline; filename="{transfer_no}.pdf"'},
    )
