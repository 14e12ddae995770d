"""Partner routes: carriers with their cutoffs."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from core.db import SessionFactory
from models.db import AuditEntry, Carrier, CarrierCutoff
from tests.api.conftest import Ref
from tests.support.api import assert_audited, my_name, problem_fields

# --- carriers ---------------------------------------------------------------------------------


async def test_carrier_create_get_list_update_and_audit(
    client: httpx.AsyncClient, user_headers, ref: Ref, session_factory: SessionFactory
) -> None:
    headers = await user_headers("ops")
    actor = await my_name(client, headers)
    made = await client.post(
        "/v1/carriers",
        json={
            "code": "SF",
            "name": "顺丰速运",
            "cutoffs": [
                {"warehouse_id": ref.other_warehouse_id, "cutoff_local": "17:30"},
                {"warehouse_id": ref.warehouse_id, "cutoff_local": "18:00"},
                {"warehouse_id": ref.warehouse_id, "cutoff_local": "12:00:00"},
                {"warehouse_id": ref.warehouse_id, "cutoff_local": "18:00"},
            ],
        },
        headers=headers,
    )
    assert made.status_code == 201, made.text
    carrier_id = made.json()["id"]
    expected_cutoffs = sorted(
        [
            {"warehouse_id": ref.warehouse_id, "cutoff_local": "12:00:00"},
            {"warehouse_id": ref.warehouse_id, "cutoff_local": "18:00:00"},
            {"warehouse_id": ref.other_warehouse_id, "cutoff_local": "17:30:00"},
        ],
        key=lambda c: (c["warehouse_id"], c["cutoff_local"]),
    )
    assert made.json() == {
        "id": carrier_id,
        "code": "SF",
        "name": "顺丰速运",
        "tracking_mode": "carrier_issued",
        "active": True,
        "cutoffs": expected_cutoffs,
    }
    got = await client.get(f"/v1/carriers/{carrier_id}", headers=headers)
    assert got.json() == made.json()
    plain = await client.post(
        "/v1/carriers",
        json={"code": "ZTO", "name": "中通", "tracking_mode": "prepurchased_range"},
        headers=headers,
    )
    assert plain.status_code == 201, plain.text
    assert plain.json()["cutoffs"] == []
    listed = (await client.get("/v1/carriers", headers=headers)).json()
    assert listed["count"] == 2
    assert [c["code"] for c in listed["data"]] == ["SF", "ZTO"]
    assert listed["data"][0]["cutoffs"] == expected_cutoffs
    assert [
        c["code"] for c in (await client.get("/v1/carriers?skip=1", headers=headers)).json()["data"]
    ] == ["ZTO"]

    # A PATCH without cutoffs keeps them; a PATCH with cutoffs replaces them all.
    renamed = await client.patch(
        f"/v1/carriers/{carrier_id}", json={"name": "顺丰", "active": False}, headers=headers
    )
    assert renamed.status_code == 200, renamed.text
    assert renamed.json()["cutoffs"] == expected_cutoffs
    replaced = await client.patch(
        f"/v1/carriers/{carrier_id}",
        json={"cutoffs": [{"warehouse_id": ref.other_warehouse_id, "cutoff_local": "16:00"}]},
        headers=headers,
    )
    assert replaced.status_code == 200, replaced.text
    again = (await client.get(f"/v1/carriers/{carrier_id}", headers=headers)).json()
    assert (again["name"], again["active"]) == ("顺丰", False)
    assert again["cutoffs"] == [
        {"warehouse_id": ref.other_warehouse_id, "cutoff_local": "16:00:00"}
    ]
    async with session_factory() as session:
        rows = (await session.scalars(select(CarrierCutoff))).all()
    assert [(r.carrier_id, r.warehouse_id, r.cutoff_local.isoformat()) for r in rows] == [
        (carrier_id, ref.other_warehouse_id, "16:00:00")
    ]
    cleared = await client.patch(
        f"/v1/carriers/{carrier_id}", json={"cutoffs": []}, headers=headers
    )
    assert cleared.json()["cutoffs"] == []

    await assert_audited(session_factory, actor, "carrier.create", "carrier", carrier_id)
    async with session_factory() as session:
        updates = (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "carrier.update")
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [(r.object_id, r.actor_name, r.client_ip) for r in updates] == [
        (str(carrier_id), actor, "10.1.2.3")
    ] * 3
    assert [r.detail for r in updates] == [
        {"name": "顺丰", "active": False},
        {"cutoffs": 1},
        {"cutoffs": 0},
    ]


async def test_carrier_rejects_bad_input_duplicates_and_unknown_ids(
    client: httpx.AsyncClient, user_headers, ref: Ref, session_factory: SessionFactory
) -> None:
    headers = await user_headers("admin")
    made = await client.post(
        "/v1/carriers",
        json={
            "code": "SF",
            "name": "顺丰",
            "cutoffs": [{"warehouse_id": ref.warehouse_id, "cutoff_local": "18:00"}],
        },
        headers=headers,
    )
    carrier_id = made.json()["id"]
    good = {"code": "YTO", "name": "圆通"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({**good, "tracking_mode": "pigeon"}, "tracking_mode"),
        ({**good, "code": "Y T O"}, "code"),
        ({**good, "api_url": "https://x"}, "api_url"),
        (
            {**good, "cutoffs": [{"warehouse_id": ref.warehouse_id, "cutoff_local": "25:00"}]},
            "cutoffs.0.cutoff_local",
        ),
        (
            {
                **good,
                "cutoffs": [
                    {"warehouse_id": ref.warehouse_id, "cutoff_local": "18:00"},
                    {"warehouse_id": 999999, "cutoff_local": "18:00"},
                ],
            },
            "cutoffs.1.warehouse_id",
        ),
        ({**good, "cutoffs": [{"cutoff_local": "18:00"}]}, "cutoffs.0.warehouse_id"),
        # A cutoff is wall-clock time in the warehouse's timezone: an offset would be dropped.
        (
            {**good, "cutoffs": [{"warehouse_id": ref.warehouse_id, "cutoff_local": "10:00Z"}]},
            "cutoffs.0.cutoff_local",
        ),
        (
            {**good, "cutoffs": [{"warehouse_id": ref.warehouse_id, "cutoff_local": 3600}]},
            "cutoffs.0.cutoff_local",
        ),
    ]
    for body, field in cases:
        answer = await client.post("/v1/carriers", json=body, headers=headers)
        assert answer.status_code == 422, (body, answer.text)
        assert problem_fields(answer) == [field], (body, answer.text)
    assert (
        await client.post("/v1/carriers", json={**good, "code": "SF"}, headers=headers)
    ).status_code == 409

    for body, field in [
        (
            {"cutoffs": [{"warehouse_id": 999999, "cutoff_local": "18:00"}]},
            "cutoffs.0.warehouse_id",
        ),
        ({"cutoffs": None}, "cutoffs"),
        ({"name": None}, "name"),
        ({"tracking_mode": "pigeon"}, "tracking_mode"),
        ({"code": "SF2"}, "code"),
    ]:
        answer = await client.patch(f"/v1/carriers/{carrier_id}", json=body, headers=headers)
        assert answer.status_code == 422, (body, answer.text)
        assert problem_fields(answer) == [field], (body, answer.text)
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Carrier)) == 1
        cutoffs = (await session.scalars(select(CarrierCutoff))).all()
    assert [(c.carrier_id, c.warehouse_id) for c in cutoffs] == [(carrier_id, ref.warehouse_id)]

    for answer in (
        await client.get("/v1/carriers/999999", headers=headers),
        await client.patch("/v1/carriers/999999", json={"name": "x"}, headers=headers),
    ):
        assert answer.status_code == 404
        assert answer.json()["type"] == "/problems/not-found"


async def test_carrier_access_by_role(
    client: httpx.AsyncClient, user_headers, key_headers, ref: Ref
) -> None:
    admin = await user_headers("admin")
    made = await client.post("/v1/carriers", json={"code": "SF", "name": "顺丰"}, headers=admin)
    carrier_id = made.json()["id"]
    for headers in (await user_headers("cs"), await user_headers("warehouse_manager")):
        assert (await client.get("/v1/carriers", headers=headers)).json()["count"] == 1
        created = await client.post(
            "/v1/carriers", json={"code": "YTO", "name": "圆通"}, headers=headers
        )
        assert created.status_code == 403
        changed = await client.patch(
            f"/v1/carriers/{carrier_id}", json={"name": "x"}, headers=headers
        )
        assert changed.status_code == 403
    device = await key_headers("device", ref.warehouse_id)
    assert (await client.get("/v1/carriers", headers=device)).status_code == 403
    carrier = (await client.get(f"/v1/carriers/{carrier_id}", headers=admin)).json()
    assert carrier["name"] == "顺丰"
    assert (await client.get("/v1/carriers", headers=admin)).json()["count"] == 1
