"""Tracking-number ranges of a carrier: remaining, low watermark, overlaps."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from temporalio.testing import ActivityEnvironment

from activities.shipments import ShipmentActivities
from core.db import SessionFactory
from models.contracts.order import ShippingAddress
from models.contracts.shipment import WaybillRequest
from models.db import Carrier, Notification, TrackingAllocation, TrackingRange
from tests.api.conftest import created
from tests.support.api import (
    MakeHeaders,
    assert_audited,
    assert_problem,
    my_name,
    problem_fields,
    row_count,
)

# --- tracking ranges --------------------------------------------------------------------------


async def new_carrier(session_factory: SessionFactory, code: str) -> int:
    async with session_factory() as session:
        carrier = Carrier(code=code, name=code, tracking_mode="prepurchased_range")
        session.add(carrier)
        await session.commit()
        return carrier.id


def tracking_range(first: int, last: int, prefix: str = "SF", low: int = 100) -> dict[str, Any]:
    return {"prefix": prefix, "first_number": first, "last_number": last, "low_watermark": low}


async def test_tracking_ranges_report_remaining_and_low_and_refuse_overlaps(
    client: httpx.AsyncClient, user_headers: MakeHeaders, session_factory: SessionFactory
) -> None:
    headers = await user_headers("ops")
    actor = await my_name(client, headers)
    sf, yt = await new_carrier(session_factory, "SF"), await new_carrier(session_factory, "YT")
    path = f"/v1/carriers/{sf}/tracking-ranges"
    wide = await created(client, path, tracking_range(1, 150), headers)
    assert (wide["next_number"], wide["remaining"], wide["low"]) == (1, 150, False)
    narrow = await created(client, path, tracking_range(1000, 1049), headers)
    assert (narrow["remaining"], narrow["low"]) == (50, True)
    sfx = await created(client, path, tracking_range(100, 200, prefix="SFX"), headers)
    await assert_audited(
        session_factory, actor, "tracking_range.create", "tracking_range", wide["id"]
    )

    for first, last in ((150, 160), (990, 1000), (1, 2000), (20, 30)):
        clash = await client.post(path, json=tracking_range(first, last), headers=headers)
        assert clash.status_code == 409, (first, last, clash.text)
        assert_problem(clash)
    other_carrier = await client.post(
        f"/v1/carriers/{yt}/tracking-ranges", json=tracking_range(140, 151), headers=headers
    )
    assert other_carrier.status_code == 409  # tracking numbers are unique across carriers

    # Numbers 1–100 of the first range have been given to packages.
    async with session_factory() as session:
        await session.execute(
            update(TrackingRange).where(TrackingRange.id == wide["id"]).values(next_number=101)
        )
        session.add(
            TrackingAllocation(package_no="PK1", carrier_id=sf, tracking_no="SF" + "0" * 11 + "7")
        )
        await session.commit()
    used = await client.post(path, json=tracking_range(5, 9), headers=headers)
    assert used.status_code == 409, used.text
    assert "SF000000000007" in used.json()["detail"]

    listed = (await client.get(path, headers=headers)).json()
    assert listed["count"] == 3
    assert [(r["id"], r["remaining"], r["low"]) for r in listed["data"]] == [
        (wide["id"], 50, True),
        (narrow["id"], 50, True),
        (sfx["id"], 101, False),
    ]
    other = (await client.get(f"/v1/carriers/{yt}/tracking-ranges", headers=headers)).json()
    assert other == {"data": [], "count": 0}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (tracking_range(200, 100), "last_number"),
        (tracking_range(-1, 100), "first_number"),
        (tracking_range(1, 2**31), "last_number"),
        (tracking_range(1, 100, prefix="sf-1"), "prefix"),
        (tracking_range(1, 100, low=-5), "low_watermark"),
        ({"prefix": "SF", "first_number": 1}, "last_number"),
    ],
)
async def test_a_bad_tracking_range_is_422_naming_the_field(
    client: httpx.AsyncClient,
    user_headers: MakeHeaders,
    session_factory: SessionFactory,
    body: dict[str, Any],
    field: str,
) -> None:
    carrier = await new_carrier(session_factory, "SF")
    answer = await client.post(
        f"/v1/carriers/{carrier}/tracking-ranges", json=body, headers=await user_headers("admin")
    )
    assert answer.status_code == 422, answer.text
    assert problem_fields(answer) == [field]
    assert await row_count(session_factory, TrackingRange) == 0


async def test_tracking_ranges_of_an_unknown_carrier_are_404(
    client: httpx.AsyncClient, user_headers: MakeHeaders
) -> None:
    headers = await user_headers("admin")
    assert (
        await client.get("/v1/carriers/999/tracking-ranges", headers=headers)
    ).status_code == 404
    answer = await client.post(
        "/v1/carriers/999/tracking-ranges", json=tracking_range(1, 10), headers=headers
    )
    assert answer.status_code == 404
    assert_problem(answer)


async def test_a_range_running_low_is_told_to_ops_once_by_the_allocation_itself(
    client: httpx.AsyncClient, user_headers: MakeHeaders, session_factory: SessionFactory
) -> None:
    """The waybill step's own allocation raises low_tracking_range (DESIGN §6.2, §6.10) when
    what is left falls under the watermark: once while it lasts, not per package."""
    headers = await user_headers("ops")
    carrier = await new_carrier(session_factory, "ZT")
    path = f"/v1/carriers/{carrier}/tracking-ranges"
    await created(client, path, tracking_range(1, 5, prefix="ZT", low=3), headers)
    shipments = ShipmentActivities(session_factory, carrier=None, tracking_webhook_url=None)  # type: ignore[arg-type]
    address = ShippingAddress(name="王五", phone="13800000000", region_code="310104",
                              detail="漕溪北路 1 号")  # fmt: skip

    async def allocate(package_no: str) -> str | None:
        request = WaybillRequest(package_no=package_no, carrier_code="ZT", warehouse_id=1,
                                 address=address, weight_g=500)  # fmt: skip
        return await ActivityEnvironment().run(shipments.allocate_tracking_number, request)

    async def told() -> list[tuple[str, str, str]]:
        async with session_factory() as session:
            rows = await session.execute(
                select(Notification.ref, Notification.permission, Notification.detail).where(
                    Notification.kind == "low_tracking_range"
                )
            )
            return [(r, p, d) for r, p, d in rows.all()]

    assert await allocate("PKZT1") == "ZT000000000001"
    assert await allocate("PKZT2") == "ZT000000000002"  # 3 left: at the watermark, not under
    assert await told() == []
    assert await allocate("PKZT3") == "ZT000000000003"
    assert await told() == [("ZT:ZT", "carrier.write", "2 / 3")]
    assert await allocate("PKZT3") == "ZT000000000003"  # a retry: the same number
    assert await allocate("PKZT4") == "ZT000000000004"
    assert await told() == [("ZT:ZT", "carrier.write", "2 / 3")]  # still open: told once
