"""Hand over by carrier manifest (交接单): labelled packages are scanned onto a manifest by
package number or tracking number, each scan kept by its device-made id; wrong scans are refused
with the rule that refuses them; the hand-over sends every package through its shipment, as the
single handover does, and what it answered is what the next call shows."""

from __future__ import annotations

import httpx

from tests.support.manifests import labelled
from tests.support.order_api import (
    DEVICE,
    Json,
    events_of,
    only_in,
    package,
    paid_order,
    staff,
    view,
    warehouse_id,
)
from tests.support.orders import SHOP
from tests.support.pdf_read import decoded, page_texts
from tests.support.picking import scan_id
from tests.support.stack import Stack

SH01 = DEVICE["SH01"]


async def _open(
    api: httpx.AsyncClient, warehouse: int, carrier: str, device: dict[str, str] = SH01
) -> Json:
    opened = await api.post(
        "/v1/manifests",
        headers=device,
        json={"warehouse_id": warehouse, "carrier_code": carrier, "note": "沪A12345 张师傅"},
    )
    assert opened.status_code == 201, opened.text
    shown: Json = opened.json()
    assert shown["status"] == "open" and shown["manifest_no"].startswith("MF")
    return shown


async def _scan(
    api: httpx.AsyncClient, manifest_no: str, code: str, sid: str | None = None
) -> httpx.Response:
    return await api.post(
        f"/v1/manifests/{manifest_no}/packages",
        headers=SH01,
        json={"scan_id": sid or scan_id("mf"), "code": code},
    )


def _refused(answer: httpx.Response, error: str, status: int = 409) -> Json:
    assert answer.status_code == status, answer.text
    body: Json = answer.json()
    assert body["error"] == error, body
    return body


async def test_scans_by_package_and_tracking_number_and_hand_over_every_package(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    first, second = await labelled(stack, api, 2, "mf-happy")
    manifest = await _open(api, first["warehouse_id"], first["carrier_code"])
    number = manifest["manifest_no"]

    by_package = await _scan(api, number, first["package_no"], "mf-scan-1")
    by_tracking = await _scan(api, number, second["tracking_no"])
    again = await _scan(api, number, first["package_no"], "mf-scan-1")  # a lost answer, resent

    assert by_package.status_code == 200, by_package.text
    assert by_package.json()["package_no"] == first["package_no"]
    assert by_package.json()["replayed"] is False
    assert by_tracking.status_code == 200, by_tracking.text
    assert by_tracking.json()["package_no"] == second["package_no"]
    assert by_tracking.json()["count"] == 2
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert again.json()["count"] == 2  # nothing booked twice
    shown = (await api.get(f"/v1/manifests/{number}", headers=SH01)).json()
    assert [p["package_no"] for p in shown["packages"]] == [
        first["package_no"],
        second["package_no"],
    ]
    assert shown["weight_g"] == first["expected_weight_g"] + second["expected_weight_g"]

    handed = await api.post(f"/v1/manifests/{number}/hand-over", headers=SH01)

    assert handed.status_code == 200, handed.text
    answer = handed.json()
    assert answer["status"] == "handed_over" and answer["failed"] == []
    assert sorted(answer["handed_over"]) == sorted([first["package_no"], second["package_no"]])
    # The answer holds for the next call, at once: the manifest and every package.
    shown = (await api.get(f"/v1/manifests/{number}", headers=SH01)).json()
    assert shown["status"] == "handed_over" and shown["handed_over_at"]
    assert {p["status"] for p in shown["packages"]} == {"handed_over"}
    for parcel in (first, second):
        assert (await package(api, parcel["package_no"], SH01))["status"] == "shipped"
        order = await view(api, parcel["order_no"], SHOP)
        shipped = [e for e in order["timeline"] if e["step"] == "shipped"]
        assert [e["package_no"] for e in shipped] == [parcel["package_no"]]
        steps = await events_of(stack, parcel["package_no"])
        assert [s[1] for s in steps if s[0] == "shipped"] == ["device"]
    listed = await api.get(
        "/v1/manifests", headers=SH01, params={"package_no": first["package_no"]}
    )
    assert [m["manifest_no"] for m in listed.json()["data"]] == [number]
    assert listed.json()["data"][0]["count"] == 2
    by_tracking = await api.get(
        "/v1/manifests", headers=SH01, params={"package_no": second["tracking_no"]}
    )
    assert [m["manifest_no"] for m in by_tracking.json()["data"]] == [number]
    # Handed over once: sent again, the same answer and nothing handed over twice.
    repeat = await api.post(f"/v1/manifests/{number}/hand-over", headers=SH01)
    assert repeat.status_code == 200 and repeat.json()["status"] == "handed_over"
    assert repeat.json()["handed_over_at"] == answer["handed_over_at"]
    assert sorted(repeat.json()["handed_over"]) == sorted(answer["handed_over"])
    shipped_steps = [s for s, *_ in await events_of(stack, first["package_no"])]
    assert shipped_steps.count("shipped") == 1

    pdf = await api.get(f"/v1/manifests/{number}/manifest.pdf", headers=await staff(api, "ops"))
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = "\n".join(page_texts(pdf.content))
    assert number in text and first["tracking_no"] in text and second["tracking_no"] in text
    assert "Driver signature" in text and "Packages: 2" in text
    assert {number, first["tracking_no"], second["tracking_no"]} <= set(decoded(pdf.content)[0])


async def test_wrong_scans_are_refused_naming_why(stack: Stack, api: httpx.AsyncClient) -> None:
    first, second = await labelled(stack, api, 2, "mf-refusals")
    sh01 = first["warehouse_id"]
    carrier = first["carrier_code"]
    other_carrier = "ZTO" if carrier != "ZTO" else "SF"
    manifest = (await _open(api, sh01, carrier))["manifest_no"]
    unlabelled = (
        await paid_order(stack, api, [(await only_in(stack, "SH01"), 1)], key="mf-unlabelled")
    )["packages"][0]

    _refused(await _scan(api, manifest, unlabelled["package_no"]), "not_labelled")
    _refused(await _scan(api, manifest, "SF0000000000"), "unknown_package")
    wrong_carrier = (await _open(api, sh01, other_carrier))["manifest_no"]
    _refused(await _scan(api, wrong_carrier, first["package_no"]), "other_carrier")
    gz01 = await warehouse_id(stack, "GZ01")
    elsewhere = (await _open(api, gz01, carrier, DEVICE["GZ01"]))["manifest_no"]
    answer = await api.post(
        f"/v1/manifests/{elsewhere}/packages",
        headers=DEVICE["GZ01"],
        json={"scan_id": scan_id("gz"), "code": first["tracking_no"]},
    )
    _refused(answer, "other_warehouse")
    assert (await _scan(api, manifest, first["package_no"], "mf-r-1")).status_code == 200
    second_manifest = (await _open(api, sh01, carrier))["manifest_no"]
    on = _refused(await _scan(api, second_manifest, first["tracking_no"]), "on_manifest")
    assert on["manifest_no"] == manifest
    _refused(await _scan(api, manifest, first["package_no"]), "on_manifest")  # scanned twice
    # The same scan id for another package is not a resend.
    _refused(await _scan(api, manifest, second["package_no"], "mf-r-1"), "scan_id_reused")
    # Another warehouse's device does not see this warehouse's manifest.
    foreign = await api.get(f"/v1/manifests/{manifest}", headers=DEVICE["GZ01"])
    assert foreign.status_code == 403

    # Taken off, the package may go on another manifest.
    off = await api.delete(f"/v1/manifests/{manifest}/packages/{first['package_no']}", headers=SH01)
    assert off.status_code == 200, off.text
    assert off.json()["count"] == 0
    assert [p["status"] for p in off.json()["packages"]] == ["removed"]
    moved = await _scan(api, second_manifest, first["tracking_no"])
    assert moved.status_code == 200 and moved.json()["count"] == 1

    # A cancelled package is refused.
    cancelled = await api.post(
        f"/v1/orders/{second['order_no']}/cancel", json={"reason": "不想要了"}, headers=SHOP
    )
    assert cancelled.status_code == 200, cancelled.text
    assert (await package(api, second["package_no"], SH01))["status"] == "cancelled"
    _refused(await _scan(api, manifest, second["tracking_no"]), "cancelled")

    handed = await api.post(f"/v1/manifests/{second_manifest}/hand-over", headers=SH01)
    assert handed.status_code == 200 and handed.json()["status"] == "handed_over", handed.text
    _refused(await _scan(api, second_manifest, "anything"), "manifest_closed")
    _refused(await _scan(api, manifest, first["package_no"]), "on_manifest")
    empty = await api.post(f"/v1/manifests/{manifest}/hand-over", headers=SH01)
    _refused(empty, "manifest_empty")
    # Staff read manifests but do not scan: packing is the devices'.
    ops = await staff(api, "ops")
    assert (await api.get(f"/v1/manifests/{manifest}", headers=ops)).status_code == 200
    denied = await api.post(
        f"/v1/manifests/{manifest}/packages",
        headers=ops,
        json={"scan_id": scan_id("ops"), "code": first["package_no"]},
    )
    assert denied.status_code == 403


async def test_a_package_that_cannot_go_is_reported_and_stays(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    first, second = await labelled(stack, api, 2, "mf-partial")
    manifest = (await _open(api, first["warehouse_id"], first["carrier_code"]))["manifest_no"]
    for parcel in (first, second):
        assert (await _scan(api, manifest, parcel["package_no"])).status_code == 200
    # Handed over one by one meanwhile: its shipment refuses a second handover.
    single = await api.post(f"/v1/packages/{second['package_no']}/handover", headers=SH01)
    assert single.status_code == 200 and single.json()["status"] == "shipped"

    handed = await api.post(f"/v1/manifests/{manifest}/hand-over", headers=SH01)

    assert handed.status_code == 200, handed.text
    answer = handed.json()
    assert answer["status"] == "handed_over"
    assert answer["handed_over"] == [first["package_no"]]
    [failed] = answer["failed"]
    assert failed["package_no"] == second["package_no"] and "shipped" in failed["detail"]
    assert answer["count"] == 1
    shown = (await api.get(f"/v1/manifests/{manifest}", headers=SH01)).json()
    statuses = {p["package_no"]: p["status"] for p in shown["packages"]}
    assert statuses == {first["package_no"]: "handed_over", second["package_no"]: "failed"}
    assert (await package(api, first["package_no"], SH01))["status"] == "shipped"
    # The printed manifest lists only what went.
    pdf = await api.get(f"/v1/manifests/{manifest}/manifest.pdf", headers=SH01)
    text = "\n".join(page_texts(pdf.content))
    assert first["tracking_no"] in text and second["tracking_no"] not in text


async def test_an_open_resent_is_one_manifest_and_a_cancelled_one_frees_its_packages(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    (parcel,) = await labelled(stack, api, 1, "mf-cancel")
    body = {
        "warehouse_id": parcel["warehouse_id"],
        "carrier_code": parcel["carrier_code"],
        "request_id": "pda-open-1",
    }
    opened = await api.post("/v1/manifests", headers=SH01, json=body)
    again = await api.post("/v1/manifests", headers=SH01, json=body)  # the answer was lost
    assert opened.status_code == again.status_code == 201, again.text
    number = opened.json()["manifest_no"]
    assert again.json()["manifest_no"] == number
    other = "ZTO" if parcel["carrier_code"] != "ZTO" else "SF"
    _refused(
        await api.post("/v1/manifests", headers=SH01, json=body | {"carrier_code": other}),
        "request_id_reused",
    )
    unknown = await api.post(
        "/v1/manifests",
        headers=SH01,
        json={**body, "carrier_code": "NOPE", "request_id": "pda-open-2"},
    )
    assert unknown.status_code == 422, unknown.text
    listed = await api.get("/v1/manifests", headers=SH01, params={"status": "open"})
    assert [m["manifest_no"] for m in listed.json()["data"]] == [number]

    assert (await _scan(api, number, parcel["tracking_no"])).status_code == 200
    cancelled = await api.post(f"/v1/manifests/{number}/cancel", headers=SH01)

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["count"] == 0
    assert [p["status"] for p in cancelled.json()["packages"]] == ["cancelled"]
    _refused(await _scan(api, number, parcel["package_no"]), "manifest_closed")
    _refused(await api.post(f"/v1/manifests/{number}/hand-over", headers=SH01), "manifest_closed")
    fresh = (await _open(api, parcel["warehouse_id"], parcel["carrier_code"]))["manifest_no"]
    assert (await _scan(api, fresh, parcel["package_no"])).status_code == 200
    assert (await package(api, parcel["package_no"], SH01))["status"] == "waybill_created"
