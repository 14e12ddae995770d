"""Carrier manifests in the console (list, filters, export, detail, print) and on the handheld
(/pda/handover: open a manifest for a carrier, scan packages, hand over, print)."""

from __future__ import annotations

import csv
import io
import re

import httpx

from api.deps import AppDeps
from tests.console.test_pda_pages import _paired_and_signed_in
from tests.support.console import browser, csrf_of, signed_in, text_of
from tests.support.manifests import labelled
from tests.support.order_api import DEVICE, Json, package
from tests.support.stack import Stack

SH01 = DEVICE["SH01"]


async def _manifest(
    api: httpx.AsyncClient, parcels: list[Json], warehouse: int, carrier: str
) -> str:
    opened = await api.post(
        "/v1/manifests", headers=SH01, json={"warehouse_id": warehouse, "carrier_code": carrier}
    )
    assert opened.status_code == 201, opened.text
    number = str(opened.json()["manifest_no"])
    for i, parcel in enumerate(parcels):
        scanned = await api.post(
            f"/v1/manifests/{number}/packages",
            headers=SH01,
            json={"scan_id": f"{number}-{i}", "code": parcel["tracking_no"]},
        )
        assert scanned.status_code == 200, scanned.text
    return number


async def test_manifest_list_filters_export_detail_and_print(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    first, second = await labelled(stack, api, 2, "mf-console")
    carrier = first["carrier_code"]
    gone = await _manifest(api, [first, second], first["warehouse_id"], carrier)
    handed = await api.post(f"/v1/manifests/{gone}/hand-over", headers=SH01)
    assert handed.status_code == 200 and handed.json()["status"] == "handed_over"
    still_open = await _manifest(api, [], first["warehouse_id"], carrier)

    async with browser(deps) as web:
        await signed_in(web, "warehouse_manager")
        home = await web.get("/console/")
        assert 'href="/console/manifests"' in home.text
        page = await web.get("/console/manifests")
        assert page.status_code == 200
        assert re.findall(r'data-manifest="(MF\d+)"', page.text) == [still_open, gone]
        assert "共 2 条" in page.text
        oldest = await web.get("/console/manifests", params={"sort": "created_at"})
        assert re.findall(r'data-manifest="(MF\d+)"', oldest.text) == [gone, still_open]
        done = await web.get("/console/manifests", params={"status": "handed_over"})
        assert re.findall(r'data-manifest="(MF\d+)"', done.text) == [gone]
        assert "已交接" in text_of(done.text)
        holding = await web.get("/console/manifests", params={"package_no": second["package_no"]})
        assert re.findall(r'data-manifest="(MF\d+)"', holding.text) == [gone]
        fragment = await web.get(
            "/console/manifests", params={"status": "open"}, headers={"HX-Request": "true"}
        )
        assert "<html" not in fragment.text and still_open in fragment.text
        assert gone not in fragment.text
        bad = await web.get("/console/manifests", params={"status": "lost"})
        assert "无效的筛选条件：status" in bad.text

        exported = await web.get("/console/manifests/export.csv", params={"status": "handed_over"})
        rows = list(csv.reader(io.StringIO(exported.text.lstrip("\ufeff"))))
        assert rows[0][:4] == ["交接单号", "仓库", "承运商", "状态"]
        assert [r[0] for r in rows[1:]] == [gone]
        assert rows[1][3:5] == ["已交接", "2"]
        xlsx = await web.get("/console/manifests/export.xlsx")
        assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"

        detail = await web.get(f"/console/manifests/{gone}")
        words = text_of(detail.text)
        assert first["tracking_no"] in words and second["tracking_no"] in words
        assert "打印交接单" in words and "已交接" in words
        pdf = await web.get(f"/console/manifests/{gone}/manifest.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

        web.cookies.set("houtai_lang", "en")
        english = await web.get(f"/console/manifests/{gone}")
        assert "Print the manifest" in english.text and "Handed over" in english.text


async def test_the_handheld_opens_scans_and_hands_over_a_manifest(
    stack: Stack, deps: AppDeps, api: httpx.AsyncClient
) -> None:
    (parcel,) = await labelled(stack, api, 1, "mf-pda")
    async with browser(deps) as pda:
        await _paired_and_signed_in(pda, api, stack, parcel["warehouse_id"])
        assert 'id="go-handover"' in (await pda.get("/pda/")).text
        start = await pda.get("/pda/handover")
        assert f'id="open-{parcel["carrier_code"]}"' in start.text
        open_id = re.findall(r'name="scan_id" value="([^"]+)"', start.text)[0]
        form = {"csrf": csrf_of(pda), "scan_id": open_id, "carrier": parcel["carrier_code"]}
        opened = await pda.post("/pda/handover", data=form)
        again = await pda.post("/pda/handover", data=form)  # the answer was lost: sent again
        assert opened.headers["location"] == again.headers["location"]
        path = opened.headers["location"]
        number = path.rsplit("/", 1)[1]
        assert number.startswith("MF")

        page = await pda.get(path)
        scan_id = re.findall(r'name="scan_id" value="([^"]+)"', page.text)[0]
        wrong = await pda.post(
            f"{path}/scan", data={"csrf": csrf_of(pda), "scan_id": "w-1", "code": "NOPE123"}
        )
        assert "ok=0&msg=unknown_package" in wrong.headers["location"]
        shown = await pda.get(wrong.headers["location"])
        assert "result-error" in shown.text and "未知包裹" in text_of(shown.text)
        scan = {"csrf": csrf_of(pda), "scan_id": scan_id, "code": parcel["tracking_no"]}
        first = await pda.post(f"{path}/scan", data=scan)
        resent = await pda.post(f"{path}/scan", data=scan)
        assert first.headers["location"] == resent.headers["location"]
        assert "ok=1&msg=scanned" in first.headers["location"]
        shown = await pda.get(first.headers["location"])
        assert 'id="count">1 件' in shown.text and parcel["package_no"] in text_of(shown.text)

        # Taken off (put aside), then scanned on again.
        remove = {"csrf": csrf_of(pda), "package_no": parcel["package_no"]}
        off = await pda.post(f"{path}/remove", data=remove)
        assert "ok=1&msg=removed" in off.headers["location"]
        shown = await pda.get(off.headers["location"])
        assert 'id="count">0 件' in shown.text and "已移出交接单" in text_of(shown.text)
        twice = await pda.post(f"{path}/remove", data=remove)
        assert "ok=0&msg=not_on_manifest" in twice.headers["location"]
        scan_again = {**scan, "scan_id": "pda-rescan-1"}
        assert "ok=1" in (await pda.post(f"{path}/scan", data=scan_again)).headers["location"]

        done = await pda.post(f"{path}/hand-over", data={"csrf": csrf_of(pda)})
        assert "ok=1&msg=handed_over" in done.headers["location"]
        shown = await pda.get(done.headers["location"])
        assert "已交接" in text_of(shown.text) and 'id="print"' in shown.text
        pdf = await pda.get(f"{path}/manifest.pdf")
        assert pdf.content.startswith(b"%PDF")
    assert (await package(api, parcel["package_no"], SH01))["status"] == "shipped"
    listed = await api.get("/v1/manifests", headers=SH01, params={"status": "handed_over"})
    assert [m["manifest_no"] for m in listed.json()["data"]] == [number]
