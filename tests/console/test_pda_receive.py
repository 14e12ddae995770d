"""Receiving on the handheld (/pda/receive): a worker scans a sent PO, scans a line's SKU, enters
what passed QC and what did not and where it is put away; the PO's figures over /v1 move at once,
the same screen's post sent again books once, and a SKU not on the PO is refused on the page."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import func, select

from api.deps import AppDeps
from models.db import Location, PurchaseReceipt, PurchaseReceiptLine
from tests.console.test_pda_pages import _field, _paired_and_signed_in
from tests.support.console import browser, csrf_of, text_of
from tests.support.order_api import DEVICE, staff
from tests.support.pdf_read import decoded, page_texts
from tests.support.purchasing import approved_po, location_in, sent
from tests.support.stack import Stack


async def test_a_po_line_is_received_once_on_the_handheld(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    po, skus, sh01 = await approved_po(stack, api, (100, 40))
    buyer = await staff(api, "purchasing")
    po_no = po["po_no"]
    await sent(api, po_no, buyer)
    async with stack.sessions() as session:
        location = await session.get(Location, await location_in(stack, "SH01"))
        assert location is not None
        location_barcode = location.barcode
    ops = await staff(api, "ops")
    barcode = (await api.get(f"/v1/skus/{skus[0]}", headers=ops)).json()["barcode"]
    listed = (await api.get("/v1/skus", params={"limit": 50}, headers=ops)).json()["data"]
    stranger = next(s["barcode"] for s in listed if s["id"] not in skus)  # on no line of the PO
    async with browser(deps) as pda:
        await _paired_and_signed_in(pda, api, stack, sh01)
        home = await pda.get("/pda/")
        assert 'href="/pda/receive"' in home.text and "收货" in text_of(home.text)
        start = await pda.get("/pda/receive")
        assert "请扫描采购单号" in text_of(start.text)
        found = await pda.post("/pda/receive", data={"csrf": csrf_of(pda), "code": po_no})
        assert found.headers["location"] == f"/pda/receive/{po_no}"
        page = await pda.get(found.headers["location"])
        assert page.status_code == 200 and f"采购单 {po_no}" in text_of(page.text)
        assert re.search(r'id="line-1">.*?<td class="open">100</td>', page.text, re.S)

        scanned_wrong = await pda.get(f"/pda/receive/{po_no}", params={"sku": stranger})
        assert "result-error" in scanned_wrong.text and "商品不对" in text_of(scanned_wrong.text)
        assert 'name="accepted"' not in scanned_wrong.text
        wrong = await pda.post(
            f"/pda/receive/{po_no}",
            data={
                "csrf": csrf_of(pda),
                "scan_id": "pda-wrong-sku-1",
                "code": stranger,
                "accepted": "5",
                "rejected": "0",
                "location": location_barcode,
            },
        )
        refused = await pda.get(wrong.headers["location"])
        assert "result-error" in refused.text and "商品不对" in text_of(refused.text)

        page = await pda.get(f"/pda/receive/{po_no}", params={"sku": barcode})
        assert 'name="accepted"' in page.text and "未到 100 件" in text_of(page.text)
        form = {
            "csrf": csrf_of(pda),
            "scan_id": _field(page.text, "scan_id"),
            "code": barcode,
            "accepted": "30",
            "rejected": "2",
            "location": location_barcode,
        }
        if (await api.get(f"/v1/skus/{skus[0]}", headers=ops)).json()["batch_managed"]:
            no_batch = await pda.post(f"/pda/receive/{po_no}", data=form)
            assert "ok=0&msg=batch&sku=" in no_batch.headers["location"]
            again = await pda.get(no_batch.headers["location"])
            assert "请输入批次号" in text_of(again.text) and 'name="batch"' in again.text
            form |= {"batch": "B2612", "produced": "2026-11-01", "expires": "2027-11-01"}
        first = await pda.post(f"/pda/receive/{po_no}", data=form)
        retry = await pda.post(f"/pda/receive/{po_no}", data=form)  # the answer got lost
        assert first.status_code == 303, first.text
        assert first.headers["location"] == retry.headers["location"]
        shown = await pda.get(first.headers["location"])
        assert "result-ok" in shown.text, (first.headers["location"], text_of(shown.text))
        assert "已收货" in text_of(shown.text)
        line = re.search(r'id="line-1">(.*?)</tr>', shown.text, re.S)
        assert line
        assert '<td class="accepted">30</td>' in line.group(1)
        assert '<td class="rejected">2</td>' in line.group(1)
        assert '<td class="open">70</td>' in line.group(1)

        over_v1 = (await api.get(f"/v1/purchase-orders/{po_no}", headers=buyer)).json()
        first_line = next(ln for ln in over_v1["lines"] if ln["line_no"] == 1)
        assert (first_line["received"], first_line["accepted"], first_line["rejected"]) == (
            32,
            30,
            2,
        )
        assert first_line["open"] == 70
        assert len(over_v1["receipts"]) == 1
        async with stack.sessions() as session:
            booked = await session.scalar(
                select(func.count()).where(PurchaseReceipt.po_no == po_no)
            )
            lines = (
                await session.execute(
                    select(PurchaseReceiptLine.accepted, PurchaseReceiptLine.batch_no)
                    .join(PurchaseReceipt)
                    .where(PurchaseReceipt.po_no == po_no)
                )
            ).all()
        assert booked == 1
        assert [tuple(row) for row in lines] == [(30, form.get("batch", ""))]
        assert shown.url.params["at"] == location_barcode  # the next line keeps the location

        # The receipt note prints from the screen: read back as a person and a scanner would.
        receipt_no = shown.url.params["receipt"]
        link = re.search(r'id="receipt-note" href="([^"]+)"', shown.text)
        assert link and link.group(1).endswith(f"/receipts/{receipt_no}/receipt-note.pdf")
        note = await pda.get(link.group(1))
        assert note.status_code == 200 and note.headers["content-type"] == "application/pdf"
        words = " ".join(page_texts(note.content))
        assert po_no in words and "收货单" in words and location_barcode.split("-")[0] in words
        assert "accepted 30, rejected 2" in words
        assert decoded(note.content)[0][0] == receipt_no
        again = await pda.get(link.group(1))
        assert again.content == note.content  # a reprint is the same document
        # Another warehouse's device may not print it; an unknown receipt is not found.
        gz = await api.get(
            f"/v1/purchase-orders/{po_no}/receipts/{receipt_no}/receipt-note.pdf",
            headers=DEVICE["GZ01"],
        )
        assert gz.status_code == 403
        missing = await api.get(
            f"/v1/purchase-orders/{po_no}/receipts/RC000/receipt-note.pdf", headers=buyer
        )
        assert missing.status_code == 404
        console_note = await api.get(
            f"/v1/purchase-orders/{po_no}/receipts/{receipt_no}/receipt-note.pdf", headers=buyer
        )
        assert console_note.content == note.content
