"""Purchase order activities: the PO projection and timeline, in-transit through the stock
ledger, and receipts putting goods on hand (booked by services.purchasing; DESIGN §5, §6.5).
Each is idempotent: a retried call finds its rows by their keys and changes nothing twice."""

from __future__ import annotations

from sqlalchemy import select
from temporalio import activity

from activities.orders import business_error
from activities.providers import ProviderError, SupplierClient
from core.db import SessionFactory
from models.contracts.purchasing import (
    InTransitRequest,
    PoStep,
    ReceiptBooking,
    ReceiveGoodsRequest,
    SendPo,
)
from models.db import Sku, Supplier, Warehouse
from services import purchasing
from services.stock_ledger import StockError


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
        """The PO's projection and timeline row (services.purchasing.record_po_step)."""
        async with self._sessions() as session:
            await purchasing.record_po_step(session, step)
            await session.commit()

    @activity.defn
    async def move_po_in_transit(self, request: InTransitRequest) -> None:
        """Raise in_transit when the PO is sent, lower it when it closes: a ledger row per line."""
        async with self._sessions() as session:
            await purchasing.move_po_in_transit(session, request)
            await session.commit()

    @activity.defn
    async def receive_goods(self, request: ReceiveGoodsRequest) -> None:
        """One receipt in one transaction (services.purchasing.book_receipt); a retried call
        finds the receipt booked and changes nothing."""
        async with self._sessions() as session:
            try:
                await purchasing.book_receipt(
                    session,
                    request,
                    received_at=activity.info().current_attempt_scheduled_time,
                )
            except StockError as exc:  # e.g. a batch-managed SKU without a batch number
                raise business_error("InvalidReceiptError", str(exc)) from exc
            await session.commit()

    @activity.defn
    async def receive_and_record(self, booking: ReceiptBooking) -> None:
        """receive_goods and record_po_step in one transaction: a receipt's goods and its
        timeline step, one activity and one commit instead of two. Idempotent like both."""
        async with self._sessions() as session:
            try:
                await purchasing.book_receipt(
                    session,
                    booking.goods,
                    received_at=activity.info().current_attempt_scheduled_time,
                )
            except StockError as exc:  # e.g. a batch-managed SKU without a batch number
                raise business_error("InvalidReceiptError", str(exc)) from exc
            await purchasing.record_po_step(session, booking.step)
            await session.commit()
