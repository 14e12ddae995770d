"""Stock counts (盘点) through the API: a manager opens a count over locations, devices of that
warehouse count (a resent entry counts once), differences show against the book, approval books
surplus and deficit through the ledger, and the count's locations are not picked from."""

from __future__ import annotations

import io

import httpx
from pypdf import PdfReader
from sqlalchemy import select

from core.db import SessionFactory
from models.db import Location, StockMovement
from tests.api.conftest import Ref
from tests.api.stock_helpers import adjust, body, figures
from tests.support.api import Headers, MakeHeaders
from tests.support.invariants import assert_stock_invariants


async def test_a_count_books_its_differences_once_approved(
    client: httpx.AsyncClient,
    admin: Headers,
    ref: Ref,
    user_headers: MakeHeaders,
    key_headers: MakeHeaders,
    session_factory: SessionFactory,
) -> None:
    for sku, units in ((ref.sku_id, 10),):
        assert (await adjust(client, admin, body(ref, sku, units))).status_code == 201
    manager = await user_headers("warehouse_manager")
    device = await key_headers("device", ref.warehouse_id)
    stranger = await key_headers("device", ref.other_warehouse_id)
    path = f"/v1/warehouses/{ref.warehouse_id}/counts"

    assert (await client.post(path, json={"location_ids": [ref.location_id]}, headers=device)
            ).status_code == 403  # fmt: skip
    foreign = await client.post(path, json={"location_ids": [ref.other_location_id]},
                                headers=manager)  # fmt: skip
    assert foreign.status_code == 422, foreign.text
    opened = await client.post(path, json={"location_ids": [ref.location_id]}, headers=manager)
    assert opened.status_code == 201, opened.text
    count = opened.json()
    number = count["count_no"]
    assert (count["status"], count["location_ids"]) == ("counting", [ref.location_id])
    # Nothing counted yet: the whole book shows as a deficit.
    assert [(d["sku_id"], d["book"], d["counted"]) for d in count["differences"]] == [
        (ref.sku_id, 10, 0)
    ]
    again = await client.post(path, json={"location_ids": [ref.location_id]}, headers=manager)
    assert again.status_code == 409, again.text  # already being counted

    entries = f"/v1/counts/{number}/entries"
    scan = {"entry_key": "scan-1", "location_id": ref.location_id, "sku_id": ref.sku_id,
            "quantity": 7}  # fmt: skip
    assert (await client.post(entries, json={"entries": [scan]}, headers=stranger)
            ).status_code == 403  # fmt: skip
    first = await client.post(entries, json={"entries": [scan]}, headers=device)
    resent = await client.post(entries, json={"entries": [scan]}, headers=device)
    second = {**scan, "entry_key": "scan-2", "quantity": 1}
    more = await client.post(entries, json={"entries": [second]}, headers=device)
    assert (first.status_code, resent.status_code, more.status_code) == (200, 200, 200)
    shown = more.json()
    assert shown["entries"] == 2
    # The device counts blind: its answers hold what it counted, never the book's 10.
    assert (shown["blind"], shown["differences"]) == (True, [])
    assert [(c["sku_id"], c["quantity"]) for c in shown["counted"]] == [(ref.sku_id, 8)]
    # The manager (who approves) sees the differences against the book.
    managed = (await client.get(f"/v1/counts/{number}", headers=manager)).json()
    assert managed["blind"] is False
    [diff] = managed["differences"]
    seen = (diff["book"], diff["counted"], diff["difference"], diff["kind"])
    assert seen == (10, 8, -2, "deficit")

    assert (await client.post(f"/v1/counts/{number}/approve", headers=device)).status_code == 403
    approved = await client.post(f"/v1/counts/{number}/approve", headers=manager)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    assert [d["difference"] for d in approved.json()["differences"]] == [-2]
    twice = await client.post(f"/v1/counts/{number}/approve", headers=manager)
    assert twice.status_code == 409, twice.text
    late = await client.post(entries, json={"entries": [{**scan, "entry_key": "x"}]},
                             headers=device)  # fmt: skip
    assert late.status_code == 409, late.text

    on_hand, _, _ = await figures(session_factory, ref.sku_id, ref.warehouse_id)
    assert on_hand == 8
    async with session_factory() as session:
        booked = (
            await session.execute(
                select(StockMovement.movement_type, StockMovement.on_hand_delta).where(
                    StockMovement.ref_no == number
                )
            )
        ).all()
        await assert_stock_invariants(session)
    assert [tuple(b) for b in booked] == [("count_deficit", -2)]


async def test_a_cancelled_count_books_nothing(
    client: httpx.AsyncClient,
    admin: Headers,
    ref: Ref,
    user_headers: MakeHeaders,
    session_factory: SessionFactory,
) -> None:
    assert (await adjust(client, admin, body(ref, ref.sku_id, 4))).status_code == 201
    manager = await user_headers("warehouse_manager")
    at = {"location_ids": [ref.location_id]}
    opened = await client.post(
        f"/v1/warehouses/{ref.warehouse_id}/counts", json=at, headers=manager
    )
    number = opened.json()["count_no"]
    cancelled = await client.post(f"/v1/counts/{number}/cancel", headers=manager)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    assert (await client.post(f"/v1/counts/{number}/approve", headers=manager)).status_code == 409
    assert (await figures(session_factory, ref.sku_id, ref.warehouse_id))[0] == 4
    assert (await client.get("/v1/counts/SC0", headers=manager)).status_code == 404


async def test_a_device_never_sees_the_book_of_a_count(
    client: httpx.AsyncClient,
    admin: Headers,
    ref: Ref,
    user_headers: MakeHeaders,
    key_headers: MakeHeaders,
) -> None:
    """盲盘: a device (or a worker who may not approve) is told no expected quantity, neither
    when it reads the count nor in the answer to its scans; the manager sees the book."""
    assert (await adjust(client, admin, body(ref, ref.sku_id, 4321))).status_code == 201
    manager = await user_headers("warehouse_manager")
    device = await key_headers("device", ref.warehouse_id)
    opened = await client.post(
        f"/v1/warehouses/{ref.warehouse_id}/counts",
        json={"location_ids": [ref.location_id]},
        headers=manager,
    )
    number = opened.json()["count_no"]
    assert [(d["book"], d["counted"]) for d in opened.json()["differences"]] == [(4321, 0)]

    seen = await client.get(f"/v1/counts/{number}", headers=device)
    assert seen.status_code == 200, seen.text
    assert seen.json()["blind"] is True
    assert seen.json()["differences"] == [] and seen.json()["counted"] == []
    assert '"book"' not in seen.text
    scan = {"entry_key": "blind-1", "location_id": ref.location_id, "sku_id": ref.sku_id,
            "quantity": 5}  # fmt: skip
    answer = await client.post(f"/v1/counts/{number}/entries", json={"entries": [scan]},
                               headers=device)  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert '"book"' not in answer.text
    assert [c["quantity"] for c in answer.json()["counted"]] == [5]
    booked = (await client.get(f"/v1/counts/{number}", headers=manager)).json()["differences"]
    assert [(d["book"], d["counted"], d["difference"]) for d in booked] == [(4321, 5, -4316)]


async def test_the_count_sheet_prints_locations_with_barcodes_and_no_book_figure(
    client: httpx.AsyncClient,
    admin: Headers,
    ref: Ref,
    user_headers: MakeHeaders,
    key_headers: MakeHeaders,
    session_factory: SessionFactory,
) -> None:
    assert (await adjust(client, admin, body(ref, ref.sku_id, 4321))).status_code == 201
    manager = await user_headers("warehouse_manager")
    opened = await client.post(
        f"/v1/warehouses/{ref.warehouse_id}/counts",
        json={"location_ids": [ref.location_id]},
        headers=manager,
    )
    number = opened.json()["count_no"]
    async with session_factory() as session:
        location = await session.get_one(Location, ref.location_id)
    sheet = f"/v1/counts/{number}/count-sheet.pdf"
    stranger = await key_headers("device", ref.other_warehouse_id)
    assert (await client.get(sheet, headers=stranger)).status_code == 403
    assert (await client.get("/v1/counts/SC0/count-sheet.pdf", headers=manager)).status_code == 404
    for who in (manager, await key_headers("device", ref.warehouse_id)):
        printed = await client.get(sheet, headers=who)
        assert printed.status_code == 200, printed.text
        assert printed.headers["content-type"] == "application/pdf"
        words = "".join(p.extract_text() for p in PdfReader(io.BytesIO(printed.content)).pages)
        assert number in words and location.code in words and "COUNT SHEET" in words
        assert "4321" not in words  # blind: the book's quantity is not on the sheet
    assert (await client.get(sheet, headers=manager)).content == printed.content
