"""Purchase orders on the database side (DESIGN §6.5): drafting a PO from an approved supplier's
own products, checking a receipt before the PO's workflow sees it, booking a receipt's goods on
hand, in-transit through the stock ledger, and the PO's projection and timeline. The process
itself (approvals, receipts' figures, closing) is PurchaseOrderWorkflow's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import ColumnElement, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from models.contracts.purchasing import InTransitRequest, PoStep, ReceiveGoodsRequest
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
from models.domain.purchasing import PoLine, Receipt
from services import notifications, putaway
from services.stock_ledger import (
    BatchRef,
    Document,
    Inbound,
    InTransit,
    move_in_transit_many,
    move_on_hand_many,
)


class InvalidPoInput(Exception):
    """An input the purchasing rules refuse; `field` names it (e.g. `lines.0.sku_id`), `code`
    its kind and `ctx` the values its message states (the API's 422 carries both)."""

    def __init__(self, field: str, message: str, code: str, **ctx: str | int) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code
        self.ctx = ctx


class SupplierNotApproved(Exception):
    """POs go only to approved suppliers."""

    def __init__(self, supplier: str, status: str) -> None:
        super().__init__(f"supplier {supplier} is {status}, not approved")
        self.supplier = supplier
        self.status = status


@dataclass(frozen=True)
class DraftLine:
    """A line as the buyer asks for it; no price means the supplier's supply price."""

    sku_id: int
    warehouse_id: int
    quantity: int
    unit_price_fen: int | None = None


@dataclass(frozen=True)
class NewPo:
    po_no: str
    lines: list[PoLine]


async def create_po(
    session: AsyncSession,
    *,
    supplier_id: int,
    lines: Sequence[DraftLine],
    note: str,
    created_by: int,
    today: date,
    expected_on: date | None = None,
) -> NewPo:
    """A new PO's rows, numbered `PO<business day><sequence>`, in the caller's transaction."""
    po_lines = await _po_lines(session, supplier_id, lines)
    po_no = await add_po(
        session,
        supplier_id=supplier_id,
        lines=po_lines,
        created_by=created_by,
        note=note,
        today=today,
        expected_on=expected_on,
    )
    return NewPo(po_no, po_lines)


async def add_po(
    session: AsyncSession,
    *,
    supplier_id: int,
    lines: Sequence[PoLine],
    created_by: int | None,
    note: str,
    today: date,
    source_key: str | None = None,
    expected_on: date | None = None,
) -> str:
    """A PO's rows, numbered `PO<business day><sequence>`; its number. `created_by` None and a
    `source_key`: drafted by replenishment."""
    seq = int(await session.scalar(select(func.nextval("po_no_seq"))) or 0)
    po_no = f"PO{today:%Y%m%d}{seq:06d}"
    session.add(
        PurchaseOrder(
            po_no=po_no,
            supplier_id=supplier_id,
            amount_fen=sum(ln.quantity * ln.unit_price_fen for ln in lines),
            created_by=created_by,
            note=note,
            source_key=source_key,
            expected_on=expected_on,
            required_roles=[],
            approvals={},
        )
    )
    await session.flush()
    session.add_all(PurchaseOrderLine(po_no=po_no, **ln.model_dump()) for ln in lines)
    return po_no


async def _po_lines(
    session: AsyncSession, supplier_id: int, drafts: Sequence[DraftLine]
) -> list[PoLine]:
    """Only an approved supplier's own products, for warehouses that exist, once each."""
    supplier = await session.get(Supplier, supplier_id)
    if supplier is None:
        raise InvalidPoInput(
            "supplier_id",
            f"supplier {supplier_id} does not exist",
            "unknown_supplier",
            supplier_id=supplier_id,
        )
    if supplier.status != "approved":
        raise SupplierNotApproved(supplier.code, supplier.status)
    offered = {
        p.sku_id: p
        for p in await session.scalars(
            select(SupplierProduct).where(SupplierProduct.supplier_id == supplier.id)
        )
    }
    warehouses = set(await session.scalars(select(Warehouse.id)))
    seen: set[tuple[int, int]] = set()
    lines: list[PoLine] = []
    for n, line in enumerate(drafts):
        if line.sku_id not in offered:
            raise InvalidPoInput(
                f"lines.{n}.sku_id",
                f"SKU {line.sku_id} is not a product of supplier {supplier.code}",
                "not_a_supplier_product",
                sku_id=line.sku_id,
                supplier=supplier.code,
            )
        if line.warehouse_id not in warehouses:
            raise InvalidPoInput(
                f"lines.{n}.warehouse_id",
                f"warehouse {line.warehouse_id} unknown",
                "unknown_warehouse",
                warehouse_id=line.warehouse_id,
            )
        if (line.sku_id, line.warehouse_id) in seen:
            raise InvalidPoInput(
                f"lines.{n}",
                "each SKU once per warehouse: merge the quantities",
                "sku_repeated_per_warehouse",
            )
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


async def check_receipt(
    session: AsyncSession, *, warehouse_id: int, location_id: int, receipt: Receipt
) -> None:
    """What the database knows that the PO's workflow does not: the putaway location is in the
    receiving warehouse, and batch-managed SKUs come with a batch number."""
    location = await session.get(Location, location_id)
    if location is None or location.warehouse_id != warehouse_id:
        raise InvalidPoInput(
            "location_id",
            f"location {location_id} is not in that warehouse",
            "location_not_in_warehouse",
            location_id=location_id,
        )
    if not receipt.lines and not receipt.extras:
        raise InvalidPoInput("lines", "a receipt needs lines or extras", "receipt_empty")
    parts = [(f"lines.{n}", p.sku_id, p.batch_no) for n, p in enumerate(receipt.lines)]
    parts += [(f"extras.{n}", p.sku_id, p.batch_no) for n, p in enumerate(receipt.extras)]
    batch_managed = set(
        await session.scalars(
            select(Sku.id).where(Sku.id.in_([sku for _, sku, _ in parts]), Sku.batch_managed)
        )
    )
    for where, sku, batch_no in parts:
        if sku in batch_managed and not batch_no:
            raise InvalidPoInput(
                f"{where}.batch_no", f"SKU {sku} is batch-managed", "batch_required", sku_id=sku
            )


async def receiving_location(session: AsyncSession, warehouse_id: int) -> int:
    """The warehouse's receiving location (the first active one), where a receipt lands when
    the receiver names no location."""
    found = await session.scalar(
        select(Location.id)
        .where(
            Location.warehouse_id == warehouse_id,
            Location.kind == "receiving",
            Location.active.is_(True),
        )
        .order_by(Location.id)
        .limit(1)
    )
    if found is None:
        raise InvalidPoInput(
            "location_id",
            "the warehouse has no receiving location: name one",
            "receiving_location_needed",
        )
    return int(found)


async def book_receipt(
    session: AsyncSession, request: ReceiveGoodsRequest, *, received_at: datetime
) -> None:
    """One receipt in the caller's transaction: its rows, accepted units on hand at the putaway
    location (purchase_in; samples and gifts as sample_in, at no cost), in-transit down. A
    receipt already booked changes nothing. Raises StockError when the ledger refuses a line
    (e.g. a batch-managed SKU without a batch number)."""
    receive = request.request
    done = await session.scalar(
        select(PurchaseReceipt.receipt_no).where(PurchaseReceipt.receipt_no == request.receipt_no)
    )
    if done is not None:
        return
    actor = actor_name(receive.actor.kind, receive.actor.name)
    session.add(
        PurchaseReceipt(
            receipt_no=request.receipt_no,
            po_no=request.po_no,
            receipt_key=receive.receipt_key,
            warehouse_id=receive.warehouse_id,
            location_id=receive.location_id,
            actor=actor,
            received_at=received_at,
        )
    )
    doc = Document(ref_type="purchase_receipt", ref_no=request.receipt_no, actor=actor)
    lines, extras = receive.receipt.lines, receive.receipt.extras
    session.add_all(
        PurchaseReceiptLine(
            receipt_no=request.receipt_no,
            line_no=line.line_no,
            sku_id=line.sku_id,
            received=line.received,
            accepted=line.accepted,
            rejected=line.rejected,
            batch_no=line.batch_no,
            production_date=line.production_date,
            expiry_date=line.expiry_date,
        )
        for line in lines
    )
    session.add_all(
        PurchaseReceiptLine(
            receipt_no=request.receipt_no,
            line_no=None,
            sku_id=extra.sku_id,
            received=extra.quantity,
            accepted=extra.quantity,
            rejected=0,
            kind=extra.kind,
            batch_no=extra.batch_no,
            production_date=extra.production_date,
            expiry_date=extra.expiry_date,
        )
        for extra in extras
    )
    # Every line's goods in one set-based booking: one ledger row per line, keyed as ever;
    # each at its PO line's price (the inventory cost), samples and gifts at no cost.
    price = {number: fen for number, fen in (await session.execute(
        select(PurchaseOrderLine.line_no, PurchaseOrderLine.unit_price_fen).where(
            PurchaseOrderLine.po_no == request.po_no,
            PurchaseOrderLine.line_no.in_({line.line_no for line in lines}),
        ))).all()} if lines else {}  # fmt: skip
    batch = receive.location_id
    on_hand = [
        Inbound("purchase_in", line.sku_id, receive.warehouse_id,
                BatchRef(batch, line.batch_no, line.production_date, line.expiry_date),
                line.accepted, _keyed(doc, f"{request.receipt_no}:in:{n}"),
                price.get(line.line_no))
        for n, line in enumerate(lines)
        if line.accepted
    ] + [
        Inbound("sample_in", extra.sku_id, receive.warehouse_id,
                BatchRef(batch, extra.batch_no, extra.production_date, extra.expiry_date),
                extra.quantity, _keyed(doc, f"{request.receipt_no}:extra:{n}"), 0)
        for n, extra in enumerate(extras)
    ]  # fmt: skip
    if on_hand:
        await move_on_hand_many(session, on_hand)
    arrived = [
        InTransit("purchase_arrived", change.sku_id, change.warehouse_id, -change.quantity,
                  _keyed(doc, f"{request.receipt_no}:transit:{change.line_no}"))
        for change in request.in_transit_removed
    ]  # fmt: skip
    if arrived:
        await move_in_transit_many(session, arrived)
    await putaway.tasks_for_receipt(session, request)  # landed in a receiving location: 上架


async def record_po_step(session: AsyncSession, step: PoStep) -> None:
    """The PO row and its lines' figures as the workflow sees them, plus a timeline row.
    Steps may land out of order (concurrent updates): status_seq keeps the newest."""
    view = step.view
    await session.execute(
        update(PurchaseOrder)
        .where(PurchaseOrder.po_no == step.po_no, PurchaseOrder.status_seq < step.seq)
        .values(
            status=step.status,
            status_seq=step.seq,
            required_roles=view.required_roles,
            approvals=view.approvals,
            reminded=view.reminded,
            escalated=view.escalated,
            close_reason=view.close_reason,
        )
    )
    if view.figures.lines:  # every line's figures in one statement
        lines = view.figures.lines
        await session.execute(
            _LINE_FIGURES,
            {
                "po_no": step.po_no,
                "line_no": [ln.line_no for ln in lines],
                "received": [ln.received for ln in lines],
                "accepted": [ln.accepted for ln in lines],
                "rejected": [ln.rejected for ln in lines],
            },
        )
    await session.execute(
        insert(PurchaseOrderEvent)
        .values(
            po_no=step.po_no,
            at=step.at,
            step=step.step,
            actor=actor_name(step.actor.kind, step.actor.name),
            detail=dict(step.detail),
            idempotency_key=f"{step.seq:04d}-{step.step}"[:80],
        )
        .on_conflict_do_nothing(index_elements=["po_no", "idempotency_key"])
    )
    await _notify_po_step(session, step)


_PO_LATE = {"approval_reminder": "reminder", "approval_escalated": "escalated"}


async def _notify_po_step(session: AsyncSession, step: PoStep) -> None:
    """PO approval waits on the approvers of the tiers still open (DESIGN §6.10): raised at
    submit, again at each SLA reminder, again for the next tier once one approved; done once
    decided."""
    still_open = tuple(sorted(set(step.view.required_roles) - set(step.view.approvals)))
    late = _PO_LATE.get(step.step)
    if (
        step.step == "submitted"
        or late is not None
        or (step.step.startswith("approved_as_") and step.status == "pending_approval")
    ):
        if late is None and step.step != "submitted":  # a tier approved: the next one's turn
            await notifications.resolve(session, "po_approval", step.po_no, step.at)
        await notifications.raise_notice(
            session,
            notifications.Notice(
                kind="po_approval",
                ref=step.po_no,
                step=late or ("raised" if step.step == "submitted" else f"after-{step.step}"),
                detail=" / ".join(still_open),
                amount_fen=step.view.amount_fen,
                roles=still_open,
            ),
        )
    elif step.status != "pending_approval" and (
        step.step.startswith("approved_as_") or step.step in ("rejected", "cancelled")
    ):
        await notifications.resolve(session, "po_approval", step.po_no, step.at)


def awaiting_approval_since() -> ColumnElement[datetime]:
    """When a purchase order began waiting for approval: its latest `submitted` step (a PO sent
    back and submitted again waits from then), else its last change. Not `created_at`: a draft
    may sit for days before it is submitted. The one expression for both who read it, the
    inbox's PO approvals and /metrics' oldest-unapproved gauge, so they never disagree."""
    submitted = (
        select(func.max(PurchaseOrderEvent.at))
        .where(
            PurchaseOrderEvent.po_no == PurchaseOrder.po_no,
            PurchaseOrderEvent.step == "submitted",
        )
        .scalar_subquery()
    )
    return func.coalesce(submitted, PurchaseOrder.updated_at)


# Not `returned`: returns are booked on the rows directly. Never back in time (received only
# grows). Constant SQL over arrays: compiled and prepared once, however many lines.
_LINE_FIGURES = text(
    "UPDATE purchase_order_lines SET received = v.received, accepted = v.accepted,"
    " rejected = v.rejected"
    " FROM unnest(CAST(:line_no AS integer[]), CAST(:received AS integer[]),"
    " CAST(:accepted AS integer[]), CAST(:rejected AS integer[]))"
    " AS v(line_no, received, accepted, rejected)"
    " WHERE purchase_order_lines.po_no = :po_no AND purchase_order_lines.line_no = v.line_no"
    " AND purchase_order_lines.received <= v.received"
)


async def move_po_in_transit(session: AsyncSession, request: InTransitRequest) -> None:
    """Raise in_transit when the PO is sent, lower it when it closes: a ledger row per line."""
    kind = "purchase_ordered" if request.raise_ else "purchase_closed"
    moves = [
        InTransit(
            kind,
            change.sku_id,
            change.warehouse_id,
            change.quantity if request.raise_ else -change.quantity,
            Document(
                ref_type="purchase_order",
                ref_no=request.po_no,
                actor=request.actor,
                idempotency_key=f"{request.po_no}:{request.key}:{change.line_no}",
            ),
        )
        for change in request.changes
    ]
    if moves:
        await move_in_transit_many(session, moves)


def actor_name(kind: str, name: str) -> str:
    """How purchasing rows name who acted."""
    return f"{kind}:{name}"[:120]


def _keyed(doc: Document, key: str) -> Document:
    return Document(doc.ref_type, doc.ref_no, doc.actor, doc.reason, key)
