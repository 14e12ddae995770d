"""Purchase order activities: the PO projection and timeline, in-transit through the stock
ledger, and receipts putting goods on hand (DESIGN §5, §6.5). Each is idempotent: a retried
call finds its rows by their keys and changes nothing twice."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from temporalio import activity

from activities.orders import business_error
from activities.providers import ProviderError, SupplierClient
from core.db import SessionFactory
from models.contracts.purchasing import InTransitRequest, PoStep, ReceiveGoodsRequest, SendPo
from models.db import (
    PurchaseOrder,
    PurchaseOrderEvent,
    PurchaseOrderLine,
    PurchaseReceipt,
    PurchaseReceiptLine,
    Sku,
    Supplier,
    Warehouse,
)
from services.stock_ledger import BatchRef, Document, StockError, move_in_transit, move_on_hand


class PurchasingActivities:
    def __init__(
        self, session_factory: SessionFactory, supplier: SupplierClient | None = None
    ) -> None:
        self._sessions = session_factory
        self._supplier = supplier

    @activity.defn
    async def send_to_supplier(self, request: SendPo) -> str:
        """The approved PO to the supplier's portal, by codes; the same PO number again is the
        same order there. Returns the supplier's order number."""
        assert self._supplier is not None, "no supplier client configured"
        async with self._sessions() as session:
            supplier = await session.get(Supplier, request.supplier_id)
            skus = {s.id: s.code for s in await session.scalars(
                select(Sku).where(Sku.id.in_([ln.sku_id for ln in request.lines])))}  # fmt: skip
            warehouses = {w.id: w.code for w in await session.scalars(select(Warehouse))}
        assert supplier is not None
        lines = [
            {"line_no": ln.line_no, "sku_code": skus[ln.sku_id], "quantity": ln.quantity,
             "unit_price_fen": ln.unit_price_fen, "ship_to": warehouses[ln.warehouse_id]}
            for ln in request.lines
        ]  # fmt: skip
        try:
            ack = await self._supplier.send_order(
                po_no=request.po_no, supplier_code=supplier.code, lines=lines
            )
        except ProviderError as exc:
            raise business_error("SupplierRefusedError", str(exc)) from exc
        return ack.supplier_order_no

    @activity.defn
    async def record_po_step(self, step: PoStep) -> None:
        """The PO row and its lines' figures as the workflow sees them, plus a timeline row.
        Steps may land out of order (concurrent updates): status_seq keeps the newest."""
        view = step.view
        async with self._sessions() as session:
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
            for line in view.figures.lines:
                await session.execute(
                    update(PurchaseOrderLine)
                    .where(
                        PurchaseOrderLine.po_no == step.po_no,
                        PurchaseOrderLine.line_no == line.line_no,
                        PurchaseOrderLine.received <= line.received,  # never back in time
                    )
                    .values(  # not `returned`: returns are booked on the rows directly
                        received=line.received,
                        accepted=line.accepted,
                        rejected=line.rejected,
                    )
                )
            await session.execute(
                insert(PurchaseOrderEvent)
                .values(
                    po_no=step.po_no,
                    at=step.at,
                    step=step.step,
                    actor=_actor(step.actor.kind, step.actor.name),
                    detail=dict(step.detail),
                    idempotency_key=f"{step.seq:04d}-{step.step}"[:80],
                )
                .on_conflict_do_nothing(index_elements=["po_no", "idempotency_key"])
            )
            await session.commit()

    @activity.defn
    async def move_po_in_transit(self, request: InTransitRequest) -> None:
        """Raise in_transit when the PO is sent, lower it when it closes: a ledger row per line."""
        kind = "purchase_ordered" if request.raise_ else "purchase_closed"
        async with self._sessions() as session:
            for change in request.changes:
                await move_in_transit(
                    session,
                    movement_type=kind,
                    sku_id=change.sku_id,
                    warehouse_id=change.warehouse_id,
                    delta=change.quantity if request.raise_ else -change.quantity,
                    doc=Document(
                        ref_type="purchase_order",
                        ref_no=request.po_no,
                        actor=request.actor,
                        idempotency_key=f"{request.po_no}:{request.key}:{change.line_no}",
                    ),
                )
            await session.commit()

    @activity.defn
    async def receive_goods(self, request: ReceiveGoodsRequest) -> None:
        """One receipt in one transaction: its rows, accepted units on hand at the putaway
        location (purchase_in; samples and gifts as sample_in, at no cost), in-transit down."""
        receive = request.request
        async with self._sessions() as session:
            done = await session.scalar(
                select(PurchaseReceipt.receipt_no).where(
                    PurchaseReceipt.receipt_no == request.receipt_no
                )
            )
            if done is not None:
                return
            actor = _actor(receive.actor.kind, receive.actor.name)
            session.add(
                PurchaseReceipt(
                    receipt_no=request.receipt_no,
                    po_no=request.po_no,
                    receipt_key=receive.receipt_key,
                    warehouse_id=receive.warehouse_id,
                    location_id=receive.location_id,
                    actor=actor,
                    received_at=activity.info().current_attempt_scheduled_time,
                )
            )
            doc = Document(ref_type="purchase_receipt", ref_no=request.receipt_no, actor=actor)
            try:
                for n, line in enumerate(receive.receipt.lines):
                    session.add(
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
                    )
                    if line.accepted:
                        await move_on_hand(
                            session,
                            movement_type="purchase_in",
                            sku_id=line.sku_id,
                            warehouse_id=receive.warehouse_id,
                            batch=BatchRef(
                                receive.location_id,
                                line.batch_no,
                                line.production_date,
                                line.expiry_date,
                            ),
                            quantity=line.accepted,
                            doc=_keyed(doc, f"{request.receipt_no}:in:{n}"),
                        )
                for n, extra in enumerate(receive.receipt.extras):
                    session.add(
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
                    )
                    await move_on_hand(
                        session,
                        movement_type="sample_in",
                        sku_id=extra.sku_id,
                        warehouse_id=receive.warehouse_id,
                        batch=BatchRef(
                            receive.location_id,
                            extra.batch_no,
                            extra.production_date,
                            extra.expiry_date,
                        ),
                        quantity=extra.quantity,
                        doc=_keyed(doc, f"{request.receipt_no}:extra:{n}"),
                    )
                for change in request.in_transit_removed:
                    await move_in_transit(
                        session,
                        movement_type="purchase_arrived",
                        sku_id=change.sku_id,
                        warehouse_id=change.warehouse_id,
                        delta=-change.quantity,
                        doc=_keyed(doc, f"{request.receipt_no}:transit:{change.line_no}"),
                    )
            except StockError as exc:  # e.g. a batch-managed SKU without a batch number
                raise business_error("InvalidReceiptError", str(exc)) from exc
            await session.commit()


def _actor(kind: str, name: str) -> str:
    return f"{kind}:{name}"[:120]


def _keyed(doc: Document, key: str) -> Document:
    return Document(doc.ref_type, doc.ref_no, doc.actor, doc.reason, key)
