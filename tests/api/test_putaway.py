"""Putaway (上架): a receipt or a restocked return that lands in a receiving location makes a
task per line with a suggested location (same SKU and batch, else an empty location of the
receiving zone, nearest first); the units are on hand but no wave can take them until a put
moves them — through the ledger (move_out / move_in naming the task), in one go or several, a
resent action moving nothing twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
import pytest_asyncio
from sqlalchemy import func, select

from core.db import SessionFactory
from models.contracts.after_sale import InspectedLine, ReturnInbound
from models.contracts.order import Actor
from models.contracts.purchasing import ReceiveGoodsRequest, ReceiveRequest
from models.db import (
    AuditEntry,
    Location,
    LocationStock,
    PurchaseOrder,
    PutawayTask,
    Stock,
    StockMovement,
    Supplier,
)
from models.domain.purchasing import Receipt, ReceiptExtra, ReceiptLine
from services.customer_returns import receive_return
from services.pick_stock import pickable
from services.purchasing import book_receipt
from tests.api.conftest import Ref
from tests.support.api import Headers, MakeHeaders


@dataclass(frozen=True)
class Floor:
    receiving: int
    near_b: int  # zone B, nearest to receiving but another zone
    far_a: int  # zone A, far
    po_no: str


def _loc(ref: Ref, code: str, kind: str, zone: str, x: int) -> Location:
    return Location(
        warehouse_id=ref.warehouse_id, code=code, barcode=f"SH01-{code}", kind=kind, zone=zone,
        aisle=1, bay=1, level=1, x_cm=x, y_cm=0,
    )  # fmt: skip


@pytest_asyncio.fixture
async def floor(session_factory: SessionFactory, ref: Ref) -> Floor:
    """Receiving in zone A at the door; A-01-01-1 (ref, 300 cm away), A-FAR (2000 cm) and B-NEAR
    (50 cm, zone B) to store in; and a PO to receive against."""
    async with session_factory() as session:
        made = [
            _loc(ref, "RCV-A", "receiving", "A", 0),
            _loc(ref, "B-NEAR", "storage", "B", 50),
            _loc(ref, "A-FAR", "storage", "A", 2000),
        ]
        supplier = Supplier(code="S1", name="供应商", status="approved")
        session.add_all([*made, supplier])
        await session.flush()
        session.add(PurchaseOrder(po_no="PO-T1", supplier_id=supplier.id, amount_fen=0))
        await session.commit()
        return Floor(made[0].id, made[1].id, made[2].id, "PO-T1")


async def _receive(
    session_factory: SessionFactory,
    ref: Ref,
    location_id: int,
    receipt_no: str,
    lines: list[ReceiptLine],
    extras: tuple[ReceiptExtra, ...] = (),
) -> list[PutawayTask]:
    request = ReceiveGoodsRequest(
        po_no="PO-T1",
        receipt_no=receipt_no,
        request=ReceiveRequest(
            receipt_key=receipt_no,
            warehouse_id=ref.warehouse_id,
            location_id=location_id,
            receipt=Receipt(lines=tuple(lines), extras=extras),
            actor=Actor(kind="device", name="PDA-1 / worker"),
        ),
        lines=[],
        in_transit_removed=[],
    )
    async with session_factory() as session:
        await book_receipt(session, request, received_at=datetime.now(UTC))
        await session.commit()
        found = await session.scalars(
            select(PutawayTask)
            .where(PutawayTask.source_no == receipt_no)
            .order_by(PutawayTask.source_key)
        )
        return list(found)


def _line(n: int, sku: int, accepted: int, batch: str = "", rejected: int = 0) -> ReceiptLine:
    return ReceiptLine(
        line_no=n, sku_id=sku, received=accepted + rejected, accepted=accepted,
        rejected=rejected, batch_no=batch,
    )  # fmt: skip


async def _stock_at(session_factory: SessionFactory, location_id: int, sku: int) -> int:
    async with session_factory() as session:
        units = await session.scalar(
            select(func.sum(LocationStock.quantity)).where(
                LocationStock.location_id == location_id, LocationStock.sku_id == sku
            )
        )
        return int(units or 0)


async def _pickable(session_factory: SessionFactory, sku: int) -> int:
    """Units a wave could allocate (services/pick_stock.pickable: storage, active, not counted)."""
    async with session_factory() as session:
        units = await session.scalar(
            select(func.sum(LocationStock.quantity - LocationStock.reserved))
            .join(Location, Location.id == LocationStock.location_id)
            .where(LocationStock.sku_id == sku, *pickable())
        )
        return int(units or 0)


async def _on_hand(session_factory: SessionFactory, sku: int, warehouse: int) -> int:
    async with session_factory() as session:
        stock = await session.get(Stock, (sku, warehouse))
        return stock.on_hand if stock else 0


async def test_a_receipt_into_receiving_makes_a_task_per_line_with_its_suggested_location(
    client: httpx.AsyncClient,
    admin: Headers,
    ref: Ref,
    batch_sku: int,
    floor: Floor,
    session_factory: SessionFactory,
) -> None:
    # SKU P1 already lies (batch "") at B-NEAR; the milk's batch L9 nowhere yet.
    adjusted = await client.post(
        "/v1/stock/adjustments",
        json={"sku_id": ref.sku_id, "warehouse_id": ref.warehouse_id,
              "location_id": floor.near_b, "quantity_delta": 5, "reason": "期初"},
        headers=admin,
    )  # fmt: skip
    assert adjusted.status_code == 201, adjusted.text

    tasks = await _receive(
        session_factory, ref, floor.receiving, "RC-1",
        [_line(1, ref.sku_id, 10, rejected=2), _line(2, batch_sku, 6, "L9")],
        (ReceiptExtra(sku_id=batch_sku, quantity=1, batch_no="L8"),),
    )  # fmt: skip

    shown = [
        (t.sku_id, t.batch_no, t.quantity, t.put, t.status, t.suggested_location_id) for t in tasks
    ]
    assert shown == [
        (batch_sku, "L8", 1, 0, "open", floor.far_a),  # the sample: the next empty one of zone A
        (ref.sku_id, "", 10, 0, "open", floor.near_b),  # same SKU and batch, in another zone
        (batch_sku, "L9", 6, 0, "open", ref.location_id),  # empty, receiving's zone, nearest
    ]
    assert {(t.source_type, t.source_no, t.from_location_id) for t in tasks} == {
        ("purchase_receipt", "RC-1", floor.receiving)
    }
    assert all(t.task_no.startswith("PA") for t in tasks)
    # On hand, but no wave can take them: they wait in receiving.
    assert await _on_hand(session_factory, batch_sku, ref.warehouse_id) == 7
    assert await _pickable(session_factory, batch_sku) == 0
    assert await _stock_at(session_factory, floor.receiving, batch_sku) == 7
    # The stock list says how many wait for putaway (待上架).
    listed = await client.get(
        "/v1/stock", params={"sku_id": batch_sku, "warehouse_id": ref.warehouse_id}, headers=admin
    )
    assert listed.json()["data"][0]["awaiting_putaway"] == 7

    # The same receipt booked again (a retried activity) makes nothing new.
    again = await _receive(
        session_factory, ref, floor.receiving, "RC-1", [_line(1, ref.sku_id, 10, rejected=2)]
    )
    assert [t.task_no for t in again] == [t.task_no for t in tasks]
    # More of batch L9 while its task is open: told the same location, the units meet there.
    [more] = await _receive(
        session_factory, ref, floor.receiving, "RC-5", [_line(1, batch_sku, 2, "L9")]
    )
    assert more.suggested_location_id == ref.location_id
    # A receipt booked straight into a storage location makes no task.
    assert await _receive(session_factory, ref, ref.location_id, "RC-2",
                          [_line(1, ref.sku_id, 3)]) == []  # fmt: skip


async def test_a_restocked_return_in_receiving_waits_for_putaway(
    ref: Ref, floor: Floor, session_factory: SessionFactory
) -> None:
    inbound = ReturnInbound(
        as_no="AS-T1",
        order_no="SO-NONE",  # never picked here: the units land in receiving
        warehouse_id=ref.warehouse_id,
        actor=Actor(kind="device", name="PDA-1"),
        lines=[(InspectedLine(line_no=1, sellable=2, damaged=0), ref.sku_id)],
    )
    async with session_factory() as session:
        assert await receive_return(session, inbound) == 2
        await receive_return(session, inbound)  # idempotent per after-sale
        await session.commit()
        tasks = list(await session.scalars(select(PutawayTask)))
    shown = [(t.source_type, t.source_no, t.quantity, t.batch_no, t.from_location_id)
             for t in tasks]  # fmt: skip
    assert shown == [("after_sale", "AS-T1", 2, "RET-AS-T1", floor.receiving)]
    assert tasks[0].suggested_location_id == ref.location_id
    assert await _pickable(session_factory, ref.sku_id) == 0


async def test_puts_in_two_goes_through_the_ledger_and_a_resent_put_moves_once(
    client: httpx.AsyncClient,
    key_headers: MakeHeaders,
    ref: Ref,
    batch_sku: int,
    floor: Floor,
    session_factory: SessionFactory,
) -> None:
    [task] = await _receive(
        session_factory, ref, floor.receiving, "RC-3", [_line(1, batch_sku, 6, "L9")]
    )
    device = await key_headers("device", ref.warehouse_id)
    path = f"/v1/putaway-tasks/{task.task_no}/put"
    first = {"action_id": "pda-put-0001", "location_barcode": "SH01-A-01-01-1", "quantity": 4,
             "scanned": "6900000000024"}  # fmt: skip

    nxt = await client.get("/v1/devices/me/next-putaway", headers=device)
    assert nxt.status_code == 200 and nxt.json()["task_no"] == task.task_no
    assert nxt.json()["suggested_location_code"] == "A-01-01-1"

    wrong_scan = await client.post(path, json={**first, "scanned": "NOT-IT"}, headers=device)
    assert wrong_scan.status_code == 409
    into_receiving = await client.post(
        path, json={**first, "location_barcode": "SH01-RCV-A"}, headers=device
    )
    assert into_receiving.status_code == 422
    assert await _stock_at(session_factory, floor.receiving, batch_sku) == 6  # nothing moved

    answer = await client.post(path, json=first, headers=device)
    resent = await client.post(path, json=first, headers=device)  # the answer got lost
    assert answer.status_code == resent.status_code == 200, answer.text
    assert (answer.json()["replayed"], resent.json()["replayed"]) == (False, True)
    shown = resent.json()["task"]
    assert (shown["put"], shown["remaining"], shown["status"]) == (4, 2, "open")
    assert await _stock_at(session_factory, floor.receiving, batch_sku) == 2
    assert await _stock_at(session_factory, ref.location_id, batch_sku) == 4
    assert await _pickable(session_factory, batch_sku) == 4  # put away: now a wave can take them

    reused = await client.post(path, json={**first, "quantity": 1}, headers=device)
    assert reused.status_code == 409  # the same id for another put
    too_many = {"action_id": "pda-put-0002", "location_id": floor.far_a, "quantity": 3}
    assert (await client.post(path, json=too_many, headers=device)).status_code == 409
    rest = await client.post(path, json={**too_many, "quantity": 2}, headers=device)
    assert rest.status_code == 200, rest.text
    done = rest.json()["task"]
    assert (done["put"], done["remaining"], done["status"]) == (6, 0, "done")
    assert done["done_by"].startswith("api_key:device-")
    assert [(p["to_location_code"], p["quantity"]) for p in done["puts"]] == [
        ("A-01-01-1", 4),
        ("A-FAR", 2),
    ]
    again = await client.post(path, json={**too_many, "action_id": "pda-put-0003", "quantity": 1},
                              headers=device)  # fmt: skip
    assert again.status_code == 409  # done: nothing left

    async with session_factory() as session:
        rows = (
            await session.execute(
                select(StockMovement.movement_type, StockMovement.location_id,
                       StockMovement.on_hand_delta, StockMovement.batch_no)
                .where(StockMovement.ref_type == "putaway", StockMovement.ref_no == task.task_no)
                .order_by(StockMovement.id)
            )
        ).all()  # fmt: skip
        audits = await session.scalar(
            select(func.count()).where(
                AuditEntry.action == "putaway.put", AuditEntry.object_id == task.task_no
            )
        )
    assert [tuple(r) for r in rows] == [
        ("move_out", floor.receiving, -4, "L9"),
        ("move_in", ref.location_id, 4, "L9"),
        ("move_out", floor.receiving, -2, "L9"),
        ("move_in", floor.far_a, 2, "L9"),
    ]
    assert audits == 3  # two puts and the resend, each audited
    assert await _on_hand(session_factory, batch_sku, ref.warehouse_id) == 6
    assert await _pickable(session_factory, batch_sku) == 6
    assert (await client.get("/v1/devices/me/next-putaway", headers=device)).status_code == 204


async def test_lists_scope_and_the_printed_putaway_list(
    client: httpx.AsyncClient,
    admin: Headers,
    key_headers: MakeHeaders,
    user_headers: MakeHeaders,
    ref: Ref,
    floor: Floor,
    session_factory: SessionFactory,
) -> None:
    tasks = await _receive(
        session_factory, ref, floor.receiving, "RC-4",
        [_line(1, ref.sku_id, 3)], (ReceiptExtra(sku_id=ref.sku_id, quantity=1),),
    )  # fmt: skip
    assert len(tasks) == 2
    listed = await client.get(
        "/v1/putaway-tasks",
        params={"warehouse_id": ref.warehouse_id, "status": "open", "limit": 1},
        headers=admin,
    )
    assert listed.status_code == 200, listed.text
    assert listed.json()["count"] == 2 and len(listed.json()["data"]) == 1
    assert listed.json()["data"][0]["task_no"] == max(t.task_no for t in tasks)  # newest first
    done = await client.get("/v1/putaway-tasks", params={"status": "done"}, headers=admin)
    assert done.json()["count"] == 0
    one = await client.get(f"/v1/putaway-tasks/{tasks[0].task_no}", headers=admin)
    assert one.json()["from_location_code"] == "RCV-A" and one.json()["puts"] == []

    other = await key_headers("device", ref.other_warehouse_id)
    assert (await client.get(f"/v1/putaway-tasks/{tasks[0].task_no}", headers=other)
            ).status_code == 404  # fmt: skip
    assert (await client.get("/v1/putaway-tasks", headers=other)).json()["count"] == 0
    put = {"action_id": "pda-other-001", "location_id": ref.location_id, "quantity": 1}
    assert (await client.post(f"/v1/putaway-tasks/{tasks[0].task_no}/put", json=put,
                              headers=other)).status_code == 404  # fmt: skip
    cs = await user_headers("cs")  # no stock.move
    assert (await client.get("/v1/putaway-tasks", headers=cs)).status_code == 403

    pdf = await client.get(f"/v1/warehouses/{ref.warehouse_id}/putaway-list.pdf", headers=admin)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    empty = await client.get(
        f"/v1/warehouses/{ref.other_warehouse_id}/putaway-list.pdf", headers=admin
    )
    assert empty.status_code == 409  # nothing waits there
