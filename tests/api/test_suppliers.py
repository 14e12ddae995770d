"""Partner routes: suppliers and the products each supplies."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from core.db import SessionFactory
from models.db import Supplier, SupplierProduct
from tests.api.conftest import Ref
from tests.support.api import Headers, assert_audited, my_name, problem_fields


async def new_supplier(client: httpx.AsyncClient, headers: Headers, code: str) -> int:
    answer = await client.post(
        "/v1/suppliers", json={"code": code, "name": f"供应商 {code}"}, headers=headers
    )
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


async def preferred_suppliers(session_factory: SessionFactory, sku_id: int) -> list[int]:
    async with session_factory() as session:
        rows = await session.scalars(
            select(SupplierProduct.supplier_id).where(
                SupplierProduct.sku_id == sku_id, SupplierProduct.preferred
            )
        )
        return list(rows)


# --- suppliers --------------------------------------------------------------------------------


async def test_supplier_create_get_list_update_and_audit(
    client: httpx.AsyncClient, user_headers, session_factory: SessionFactory
) -> None:
    headers = await user_headers("purchasing")
    actor = await my_name(client, headers)
    made = await client.post(
        "/v1/suppliers",
        json={
            "code": "SUP-01",
            "name": "临安山核桃合作社",
            "contact_name": "王五",
            "phone": "+86 571-1234 5678",
            "email": "sales@linan.example",
            "payment_terms_days": 45,
        },
        headers=headers,
    )
    assert made.status_code == 201, made.text
    supplier_id = made.json()["id"]
    assert made.json() == {
        "id": supplier_id,
        "code": "SUP-01",
        "name": "临安山核桃合作社",
        "contact_name": "王五",
        "phone": "+86 571-1234 5678",
        "email": "sales@linan.example",
        "payment_terms_days": 45,
        "status": "pending",
    }
    got = await client.get(f"/v1/suppliers/{supplier_id}", headers=headers)
    assert got.json() == made.json()
    other_id = await new_supplier(client, headers, "SUP-02")

    listed = (await client.get("/v1/suppliers", headers=headers)).json()
    assert listed["count"] == 2
    assert [s["id"] for s in listed["data"]] == [supplier_id, other_id]
    assert (await client.get("/v1/suppliers?skip=1", headers=headers)).json()["data"][0][
        "id"
    ] == other_id

    approval = {"status": "approved", "payment_terms_days": 60, "email": ""}
    # Approving a supplier takes a purchasing manager, not the buyer who entered it.
    refused = await client.patch(f"/v1/suppliers/{supplier_id}", json=approval, headers=headers)
    assert refused.status_code == 403, refused.text
    manager = await user_headers("purchasing_manager")
    approver = await my_name(client, manager)
    changed = await client.patch(f"/v1/suppliers/{supplier_id}", json=approval, headers=manager)
    assert changed.status_code == 200, changed.text
    again = (await client.get(f"/v1/suppliers/{supplier_id}", headers=headers)).json()
    assert (again["status"], again["payment_terms_days"], again["email"]) == ("approved", 60, "")
    approved = (await client.get("/v1/suppliers?status=approved", headers=headers)).json()
    assert [s["id"] for s in approved["data"]] == [supplier_id]
    assert approved["count"] == 1

    await assert_audited(session_factory, actor, "supplier.create", "supplier", supplier_id)
    update = await assert_audited(
        session_factory, approver, "supplier.update", "supplier", supplier_id
    )
    assert update.detail == {"status": "approved", "payment_terms_days": 60, "email": ""}


async def test_supplier_rejects_bad_input_duplicates_and_unknown_ids(
    client: httpx.AsyncClient, user_headers, session_factory: SessionFactory
) -> None:
    headers = await user_headers("admin")
    supplier_id = await new_supplier(client, headers, "SUP-01")
    good = {"code": "SUP-02", "name": "供应商"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({**good, "email": "not-an-email"}, "email"),
        ({**good, "phone": "call me"}, "phone"),
        ({**good, "payment_terms_days": -1}, "payment_terms_days"),
        ({**good, "payment_terms_days": 30.5}, "payment_terms_days"),
        ({**good, "status": "blacklisted"}, "status"),
        ({**good, "rating": 5}, "rating"),
        ({"name": "供应商"}, "code"),
    ]
    for body, field in cases:
        answer = await client.post("/v1/suppliers", json=body, headers=headers)
        assert answer.status_code == 422, (body, answer.text)
        assert problem_fields(answer) == [field], (body, answer.text)
    duplicate = await client.post("/v1/suppliers", json={**good, "code": "SUP-01"}, headers=headers)
    assert duplicate.status_code == 409, duplicate.text

    for body, field in [
        ({"status": "gone"}, "status"),
        ({"name": None}, "name"),
        ({"status": None}, "status"),
        ({"code": "SUP-9"}, "code"),
    ]:
        answer = await client.patch(f"/v1/suppliers/{supplier_id}", json=body, headers=headers)
        assert answer.status_code == 422, (body, answer.text)
        assert problem_fields(answer) == [field], (body, answer.text)
    async with session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(Supplier)) == 1
        supplier = await session.get(Supplier, supplier_id)
        assert supplier is not None
        assert (supplier.name, supplier.status) == ("供应商 SUP-01", "pending")

    for answer in (
        await client.get("/v1/suppliers/999999", headers=headers),
        await client.patch("/v1/suppliers/999999", json={"name": "x"}, headers=headers),
        await client.get("/v1/suppliers/999999/products", headers=headers),
        await client.post(
            "/v1/suppliers/999999/products",
            json={"sku_id": 1, "supply_price_fen": 1},
            headers=headers,
        ),
        await client.patch(
            f"/v1/suppliers/{supplier_id}/products/999999",
            json={"supply_price_fen": 1},
            headers=headers,
        ),
    ):
        assert answer.status_code == 404, answer.text
        assert answer.json()["type"] == "/problems/not-found"


async def test_supplier_access_by_role(
    client: httpx.AsyncClient, user_headers, ref: Ref, session_factory: SessionFactory
) -> None:
    admin = await user_headers("admin")
    supplier_id = await new_supplier(client, admin, "SUP-01")
    writes = [
        ("POST", "/v1/suppliers", {"code": "SUP-02", "name": "n"}),
        ("PATCH", f"/v1/suppliers/{supplier_id}", {"status": "approved"}),
        (
            "POST",
            f"/v1/suppliers/{supplier_id}/products",
            {"sku_id": ref.sku_id, "supply_price_fen": 5000},
        ),
        (
            "PATCH",
            f"/v1/suppliers/{supplier_id}/products/{ref.sku_id}",
            {"supply_price_fen": 5000},
        ),
    ]
    # finance and ops read suppliers but do not change them.
    for role in ("finance", "ops"):
        headers = await user_headers(role)
        assert (await client.get("/v1/suppliers", headers=headers)).json()["count"] == 1
        for method, path, body in writes:
            answer = await client.request(method, path, json=body, headers=headers)
            assert answer.status_code == 403, (role, method, path, answer.text)
    # cs and warehouse managers neither read nor write.
    for role in ("cs", "warehouse_manager"):
        headers = await user_headers(role)
        for path in (
            "/v1/suppliers",
            f"/v1/suppliers/{supplier_id}",
            f"/v1/suppliers/{supplier_id}/products",
        ):
            assert (await client.get(path, headers=headers)).status_code == 403, (role, path)
        answer = await client.request(*writes[0][:2], json=writes[0][2], headers=headers)
        assert answer.status_code == 403
    async with session_factory() as session:
        supplier = await session.get(Supplier, supplier_id)
        assert supplier is not None
        assert supplier.status == "pending"
        assert await session.scalar(select(func.count()).select_from(SupplierProduct)) == 0


# --- supplier products ------------------------------------------------------------------------


async def test_supplier_product_add_list_update_and_audit(
    client: httpx.AsyncClient, user_headers, ref: Ref, session_factory: SessionFactory
) -> None:
    headers = await user_headers("purchasing")
    actor = await my_name(client, headers)
    supplier_id = await new_supplier(client, headers, "SUP-01")
    path = f"/v1/suppliers/{supplier_id}/products"
    added = await client.post(
        path,
        json={
            "sku_id": ref.sku_id,
            "supply_price_fen": 5600,
            "purchase_unit": "箱",
            "units_per_purchase_unit": 12,
            "lead_time_days": 5,
        },
        headers=headers,
    )
    assert added.status_code == 201, added.text
    product_id = added.json()["id"]
    assert added.json() == {
        "id": product_id,
        "supplier_id": supplier_id,
        "sku_id": ref.sku_id,
        "supply_price_fen": 5600,
        "purchase_unit": "箱",
        "units_per_purchase_unit": 12,
        "lead_time_days": 5,
        "preferred": False,
    }
    listed = (await client.get(path, headers=headers)).json()
    assert listed == {"data": [added.json()], "count": 1}

    changed = await client.patch(
        f"{path}/{ref.sku_id}",
        json={"supply_price_fen": 5400, "lead_time_days": 0},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    (again,) = (await client.get(path, headers=headers)).json()["data"]
    assert (again["supply_price_fen"], again["lead_time_days"], again["purchase_unit"]) == (
        5400,
        0,
        "箱",
    )
    # Another supplier's list does not show it.
    other_id = await new_supplier(client, headers, "SUP-02")
    assert (await client.get(f"/v1/suppliers/{other_id}/products", headers=headers)).json() == {
        "data": [],
        "count": 0,
    }

    await assert_audited(
        session_factory, actor, "supplier_product.create", "supplier_product", product_id
    )
    update = await assert_audited(
        session_factory, actor, "supplier_product.update", "supplier_product", product_id
    )
    assert update.detail == {"supply_price_fen": 5400, "lead_time_days": 0}


async def test_supplier_product_rejects_bad_input_and_duplicates(
    client: httpx.AsyncClient, user_headers, ref: Ref, session_factory: SessionFactory
) -> None:
    headers = await user_headers("admin")
    supplier_id = await new_supplier(client, headers, "SUP-01")
    path = f"/v1/suppliers/{supplier_id}/products"
    good = {"sku_id": ref.sku_id, "supply_price_fen": 5600}
    cases: list[tuple[dict[str, Any], str]] = [
        ({**good, "sku_id": 999999}, "sku_id"),
        ({**good, "supply_price_fen": 12.5}, "supply_price_fen"),
        ({**good, "supply_price_fen": "5600"}, "supply_price_fen"),
        ({**good, "supply_price_fen": -1}, "supply_price_fen"),
        ({**good, "units_per_purchase_unit": 0}, "units_per_purchase_unit"),
        ({**good, "lead_time_days": -2}, "lead_time_days"),
        ({**good, "purchase_unit": ""}, "purchase_unit"),
        ({**good, "supplier_id": supplier_id}, "supplier_id"),
    ]
    for body, field in cases:
        answer = await client.post(path, json=body, headers=headers)
        assert answer.status_code == 422, (body, answer.text)
        assert problem_fields(answer) == [field], (body, answer.text)
    assert (await client.post(path, json=good, headers=headers)).status_code == 201
    duplicate = await client.post(path, json={**good, "supply_price_fen": 1}, headers=headers)
    assert duplicate.status_code == 409, duplicate.text

    for body, field in [
        ({"supply_price_fen": 12.5}, "supply_price_fen"),
        ({"supply_price_fen": None}, "supply_price_fen"),
        ({"preferred": None}, "preferred"),
        ({"sku_id": 2}, "sku_id"),
    ]:
        answer = await client.patch(f"{path}/{ref.sku_id}", json=body, headers=headers)
        assert answer.status_code == 422, (body, answer.text)
        assert problem_fields(answer) == [field], (body, answer.text)
    async with session_factory() as session:
        rows = (await session.scalars(select(SupplierProduct))).all()
    assert [(r.supplier_id, r.sku_id, r.supply_price_fen) for r in rows] == [
        (supplier_id, ref.sku_id, 5600)
    ]


async def test_a_new_preferred_supplier_unprefers_the_previous_one(
    client: httpx.AsyncClient, user_headers, ref: Ref, session_factory: SessionFactory
) -> None:
    headers = await user_headers("purchasing")
    first = await new_supplier(client, headers, "SUP-01")
    second = await new_supplier(client, headers, "SUP-02")
    third = await new_supplier(client, headers, "SUP-03")
    offer = {"sku_id": ref.sku_id, "supply_price_fen": 5600}

    made = await client.post(
        f"/v1/suppliers/{first}/products", json={**offer, "preferred": True}, headers=headers
    )
    assert made.status_code == 201, made.text
    assert await preferred_suppliers(session_factory, ref.sku_id) == [first]

    # Adding a second preferred offer moves the preference.
    made = await client.post(
        f"/v1/suppliers/{second}/products", json={**offer, "preferred": True}, headers=headers
    )
    assert made.status_code == 201, made.text
    assert await preferred_suppliers(session_factory, ref.sku_id) == [second]
    first_offer = (await client.get(f"/v1/suppliers/{first}/products", headers=headers)).json()
    assert first_offer["data"][0]["preferred"] is False

    # A non-preferred offer leaves it where it is.
    made = await client.post(f"/v1/suppliers/{third}/products", json=offer, headers=headers)
    assert made.status_code == 201
    assert await preferred_suppliers(session_factory, ref.sku_id) == [second]

    # Preferring an existing offer by PATCH moves it again.
    changed = await client.patch(
        f"/v1/suppliers/{third}/products/{ref.sku_id}", json={"preferred": True}, headers=headers
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["preferred"] is True
    assert await preferred_suppliers(session_factory, ref.sku_id) == [third]

    # Re-preferring the current one changes nothing; un-preferring leaves none.
    same = await client.patch(
        f"/v1/suppliers/{third}/products/{ref.sku_id}", json={"preferred": True}, headers=headers
    )
    assert same.status_code == 200
    assert await preferred_suppliers(session_factory, ref.sku_id) == [third]
    cleared = await client.patch(
        f"/v1/suppliers/{third}/products/{ref.sku_id}", json={"preferred": False}, headers=headers
    )
    assert cleared.status_code == 200
    assert await preferred_suppliers(session_factory, ref.sku_id) == []

    # A refused write does not un-prefer anybody.
    await client.patch(
        f"/v1/suppliers/{first}/products/{ref.sku_id}", json={"preferred": True}, headers=headers
    )
    duplicate = await client.post(
        f"/v1/suppliers/{second}/products", json={**offer, "preferred": True}, headers=headers
    )
    assert duplicate.status_code == 409
    assert await preferred_suppliers(session_factory, ref.sku_id) == [first]
