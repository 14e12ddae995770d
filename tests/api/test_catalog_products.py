"""Catalog routes: products (SPU with SKUs), SKUs, and who may write the catalog."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from core.db import SessionFactory
from models.db import AuditEntry, Sku, Spu
from tests.api.conftest import Ref
from tests.support.api import assert_audited, my_name, problem_fields, row_count


def sku_body(code: str, barcode: str, **extra: Any) -> dict[str, Any]:
    return {
        "code": code,
        "name": f"SKU {code}",
        "barcode": barcode,
        "weight_g": 250,
        "volume_cm3": 1200,
        "list_price_fen": 1990,
        **extra,
    }


def product_body(category_id: int, *skus: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "code": "P2",
        "name": "混合坚果",
        "category_id": category_id,
        "skus": list(skus) or [sku_body("P2-250", "6900000000024")],
        **extra,
    }


# --- categories -------------------------------------------------------------------------------


async def test_catalog_writes_need_catalog_write(
    client: httpx.AsyncClient, user_headers, key_headers, ref: Ref, session_factory
) -> None:
    cs = await user_headers("cs")
    storefront = await key_headers("storefront")
    writes = [
        ("POST", "/v1/categories", {"code": "c9", "name": "n"}),
        ("PATCH", f"/v1/categories/{ref.category_id}", {"name": "n"}),
        ("POST", "/v1/brands", {"name": "b"}),
        ("POST", "/v1/products", product_body(ref.category_id)),
        ("PATCH", f"/v1/products/{ref.product_id}", {"name": "n"}),
        ("POST", f"/v1/products/{ref.product_id}/skus", sku_body("P1-1KG", "6900000000099")),
        ("PATCH", f"/v1/skus/{ref.sku_id}", {"list_price_fen": 1}),
    ]
    for headers in (cs, storefront):
        for method, path, body in writes:
            answer = await client.request(method, path, json=body, headers=headers)
            assert answer.status_code == 403, (method, path, answer.text)
            assert answer.json()["type"] == "/problems/forbidden"
        # Reading the catalog is open to every role.
        assert (await client.get("/v1/skus", headers=headers)).json()["count"] == 1
    sku = (await client.get(f"/v1/skus/{ref.sku_id}", headers=cs)).json()
    assert sku["list_price_fen"] == 9900
    async with session_factory() as session:
        refused = await session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.status_code == 403, AuditEntry.client_ip == "10.1.2.3")
        )
    assert refused == 2 * len(writes)


# --- brands -----------------------------------------------------------------------------------


async def test_product_create_get_list_update_and_audit(
    client: httpx.AsyncClient, user_headers, ref: Ref, session_factory: SessionFactory
) -> None:
    headers = await user_headers("ops")
    actor = await my_name(client, headers)
    brand_id = (await client.post("/v1/brands", json={"name": "良品"}, headers=headers)).json()[
        "id"
    ]
    body = product_body(
        ref.category_id,
        sku_body("P2-250", "6900000000024", attributes={"规格": "250g"}),
        sku_body("P2-500", "6900000000031", batch_managed=True, shelf_life_days=180),
        brand_id=brand_id,
        description="每日坚果",
    )
    made = await client.post("/v1/products", json=body, headers=headers)
    assert made.status_code == 201, made.text
    product = made.json()
    product_id = product["id"]
    assert product["brand_id"] == brand_id
    assert product["description"] == "每日坚果"
    assert product["active"] is True
    assert [s["code"] for s in product["skus"]] == ["P2-250", "P2-500"]
    assert all(s["spu_id"] == product_id for s in product["skus"])
    assert product["skus"][0]["attributes"] == {"规格": "250g"}
    assert product["skus"][1]["batch_managed"] is True
    assert product["skus"][1]["shelf_life_days"] == 180

    got = await client.get(f"/v1/products/{product_id}", headers=headers)
    assert got.json() == product

    listed = await client.get("/v1/products", headers=headers)
    assert listed.json()["count"] == 2
    found = await client.get("/v1/products?q=混合", headers=headers)
    assert [p["id"] for p in found.json()["data"]] == [product_id]
    other = await client.post(
        "/v1/categories", json={"code": "drink", "name": "饮料"}, headers=headers
    )
    by_category = await client.get(
        f"/v1/products?category_id={other.json()['id']}", headers=headers
    )
    assert by_category.json() == {"data": [], "count": 0}

    changed = await client.patch(
        f"/v1/products/{product_id}",
        json={"name": "每日混合坚果", "category_id": other.json()["id"], "active": False},
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    again = (await client.get(f"/v1/products/{product_id}", headers=headers)).json()
    assert again["name"] == "每日混合坚果"
    assert again["category_id"] == other.json()["id"]
    assert again["active"] is False
    assert len(again["skus"]) == 2

    created = await assert_audited(session_factory, actor, "product.create", "product", product_id)
    assert created.detail == {"skus": ["P2-250", "P2-500"]}
    updated = await assert_audited(session_factory, actor, "product.update", "product", product_id)
    assert updated.detail["active"] is False


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"category_id": 999999}, "category_id"),
        ({"brand_id": 999999}, "brand_id"),
        ({"code": "has space"}, "code"),
        ({"shelf": "A"}, "shelf"),
        ({"skus": []}, "skus"),
        ({"skus": [sku_body("S1", "6900000000024", list_price_fen=12.5)]}, "skus.0.list_price_fen"),
        (
            {"skus": [sku_body("S1", "6900000000024", list_price_fen="1250")]},
            "skus.0.list_price_fen",
        ),
        ({"skus": [sku_body("S1", "6900000000024", list_price_fen=-1)]}, "skus.0.list_price_fen"),
        ({"skus": [sku_body("S1", "6900000000024", weight_g=-5)]}, "skus.0.weight_g"),
        ({"skus": [sku_body("S1", "6900000000024", weight_g=0)]}, "skus.0.weight_g"),
        ({"skus": [sku_body("S1", "6900000000024", volume_cm3=-1)]}, "skus.0.volume_cm3"),
        (
            {"skus": [sku_body("S1", "6900000000024"), sku_body("S2", "69 00")]},
            "skus.1.barcode",
        ),
        ({"skus": [sku_body("S1", "6900000000024", colour="red")]}, "skus.0.colour"),
        (
            {"skus": [sku_body("S1", "6900000000024", freight_template_id=999999)]},
            "skus.0.freight_template_id",
        ),
    ],
)
async def test_product_create_names_the_bad_field(
    client: httpx.AsyncClient,
    user_headers,
    ref: Ref,
    session_factory: SessionFactory,
    change: dict[str, Any],
    field: str,
) -> None:
    headers = await user_headers("admin")
    answer = await client.post(
        "/v1/products", json={**product_body(ref.category_id), **change}, headers=headers
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["type"] == "/problems/invalid-input"
    assert field in problem_fields(answer), answer.text
    assert await row_count(session_factory, Spu) == 1
    assert await row_count(session_factory, Sku) == 1


async def test_product_with_a_duplicate_barcode_is_not_half_written(
    client: httpx.AsyncClient, user_headers, ref: Ref, session_factory: SessionFactory
) -> None:
    headers = await user_headers("admin")
    # The second SKU reuses the barcode of the reference SKU.
    body = product_body(
        ref.category_id, sku_body("P2-250", "6900000000024"), sku_body("P2-500", "6900000000017")
    )
    answer = await client.post("/v1/products", json=body, headers=headers)
    assert answer.status_code == 409, answer.text
    assert "uq_skus_barcode" in answer.json()["detail"]
    async with session_factory() as session:
        assert (await session.scalars(select(Spu.code))).all() == ["P1"]
        assert (await session.scalars(select(Sku.code))).all() == ["P1-500"]
        rows = (
            await session.scalars(select(AuditEntry).where(AuditEntry.path == "/v1/products"))
        ).all()
    # The refused attempt is on record, with its status, but names no created object.
    assert [(r.status_code, r.object_id) for r in rows] == [(409, "")]

    # Two SKUs of the same new product sharing a barcode fail the same way.
    twins = product_body(
        ref.category_id, sku_body("P2-250", "6900000000024"), sku_body("P2-500", "6900000000024")
    )
    assert (await client.post("/v1/products", json=twins, headers=headers)).status_code == 409
    duplicate_code = product_body(ref.category_id, sku_body("P1-500", "6900000000024"))
    assert (
        await client.post("/v1/products", json=duplicate_code, headers=headers)
    ).status_code == 409
    same_spu = {**product_body(ref.category_id), "code": "P1"}
    assert (await client.post("/v1/products", json=same_spu, headers=headers)).status_code == 409
    assert await row_count(session_factory, Spu) == 1
    assert await row_count(session_factory, Sku) == 1


async def test_product_update_rejects_bad_input_and_unknown_ids(
    client: httpx.AsyncClient, user_headers, ref: Ref
) -> None:
    headers = await user_headers("admin")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"category_id": 999999}, "category_id"),
        ({"category_id": None}, "category_id"),
        ({"brand_id": 999999}, "brand_id"),
        ({"name": None}, "name"),
        ({"code": "P9"}, "code"),
        ({"active": "maybe"}, "active"),
    ]
    for body, field in cases:
        answer = await client.patch(f"/v1/products/{ref.product_id}", json=body, headers=headers)
        assert answer.status_code == 422, (body, answer.text)
        assert problem_fields(answer) == [field], (body, answer.text)
    product = (await client.get(f"/v1/products/{ref.product_id}", headers=headers)).json()
    assert (product["name"], product["category_id"], product["code"]) == (
        "坚果礼盒",
        ref.category_id,
        "P1",
    )
    for answer in (
        await client.get("/v1/products/999999", headers=headers),
        await client.patch("/v1/products/999999", json={"name": "x"}, headers=headers),
        await client.post(
            "/v1/products/999999/skus", json=sku_body("X1", "6900000000048"), headers=headers
        ),
    ):
        assert answer.status_code == 404, answer.text
        assert answer.json()["type"] == "/problems/not-found"


# --- SKUs -------------------------------------------------------------------------------------


async def test_sku_add_get_list_update_and_audit(
    client: httpx.AsyncClient, user_headers, ref: Ref, session_factory: SessionFactory
) -> None:
    headers = await user_headers("ops")
    actor = await my_name(client, headers)
    added = await client.post(
        f"/v1/products/{ref.product_id}/skus",
        json=sku_body("P1-1KG", "6900000000055", list_price_fen=17900),
        headers=headers,
    )
    assert added.status_code == 201, added.text
    sku_id = added.json()["id"]
    assert added.json()["spu_id"] == ref.product_id
    assert added.json()["list_price_fen"] == 17900

    got = await client.get(f"/v1/skus/{sku_id}", headers=headers)
    assert got.json() == added.json()
    product = (await client.get(f"/v1/products/{ref.product_id}", headers=headers)).json()
    assert [s["code"] for s in product["skus"]] == ["P1-500", "P1-1KG"]

    listed = await client.get("/v1/skus", headers=headers)
    assert listed.json()["count"] == 2
    by_barcode = await client.get("/v1/skus?barcode=6900000000055", headers=headers)
    assert [s["id"] for s in by_barcode.json()["data"]] == [sku_id]
    by_q = await client.get("/v1/skus?q=1kg", headers=headers)
    assert [s["id"] for s in by_q.json()["data"]] == [sku_id]
    by_category = await client.get(f"/v1/skus?category_id={ref.category_id}", headers=headers)
    assert by_category.json()["count"] == 2
    page = await client.get("/v1/skus?skip=1&limit=1", headers=headers)
    assert [s["id"] for s in page.json()["data"]] == [sku_id]
    first = product["skus"][0]["id"]
    by_ids = await client.get(f"/v1/skus?ids={sku_id}&ids={first}&ids=999999", headers=headers)
    assert sorted(s["id"] for s in by_ids.json()["data"]) == sorted([first, sku_id])
    too_many = await client.get("/v1/skus?" + "&".join(f"ids={n}" for n in range(1, 202)),
                                headers=headers)  # fmt: skip
    assert too_many.status_code == 422

    changed = await client.patch(
        f"/v1/skus/{sku_id}",
        json={
            "list_price_fen": 16900,
            "weight_g": 1050,
            "attributes": {"规格": "1kg"},
            "active": False,
        },
        headers=headers,
    )
    assert changed.status_code == 200, changed.text
    again = (await client.get(f"/v1/skus/{sku_id}", headers=headers)).json()
    assert again["list_price_fen"] == 16900
    assert again["weight_g"] == 1050
    assert again["attributes"] == {"规格": "1kg"}
    assert again["active"] is False

    await assert_audited(session_factory, actor, "sku.create", "sku", sku_id)
    update = await assert_audited(session_factory, actor, "sku.update", "sku", sku_id)
    assert update.detail["list_price_fen"] == 16900


async def test_sku_rejects_bad_input_duplicates_and_unknown_ids(
    client: httpx.AsyncClient, user_headers, ref: Ref
) -> None:
    headers = await user_headers("admin")
    add = f"/v1/products/{ref.product_id}/skus"
    cases: list[tuple[dict[str, Any], str]] = [
        (sku_body("X1", "6900000000048", list_price_fen=12.5), "list_price_fen"),
        (sku_body("X1", "6900000000048", weight_g=-1), "weight_g"),
        (sku_body("X1", "6900000000048", shelf_life_days=0), "shelf_life_days"),
        (sku_body("X1", "6900000000048", freight_template_id=999999), "freight_template_id"),
        (sku_body("X1", "6900000000048", spu_id=ref.product_id), "spu_id"),
        (sku_body("X1", "bad barcode!"), "barcode"),
    ]
    for body, field in cases:
        answer = await client.post(add, json=body, headers=headers)
        assert answer.status_code == 422, (body, answer.text)
        assert problem_fields(answer) == [field], (body, answer.text)

    assert (
        await client.post(add, json=sku_body("P1-500", "6900000000048"), headers=headers)
    ).status_code == 409
    assert (
        await client.post(add, json=sku_body("X1", "6900000000017"), headers=headers)
    ).status_code == 409

    other = await client.post(add, json=sku_body("X1", "6900000000048"), headers=headers)
    assert other.status_code == 201
    patch_cases: list[tuple[dict[str, Any], str]] = [
        ({"list_price_fen": 12.5}, "list_price_fen"),
        ({"list_price_fen": None}, "list_price_fen"),
        ({"weight_g": -1}, "weight_g"),
        ({"freight_template_id": 999999}, "freight_template_id"),
        ({"code": "renamed"}, "code"),
        ({"barcode": None}, "barcode"),
    ]
    for body, field in patch_cases:
        answer = await client.patch(f"/v1/skus/{ref.sku_id}", json=body, headers=headers)
        assert answer.status_code == 422, (body, answer.text)
        assert problem_fields(answer) == [field], (body, answer.text)
    taken = await client.patch(
        f"/v1/skus/{ref.sku_id}", json={"barcode": "6900000000048"}, headers=headers
    )
    assert taken.status_code == 409, taken.text
    sku = (await client.get(f"/v1/skus/{ref.sku_id}", headers=headers)).json()
    assert (sku["barcode"], sku["list_price_fen"], sku["weight_g"]) == ("6900000000017", 9900, 520)

    for answer in (
        await client.get("/v1/skus/999999", headers=headers),
        await client.patch("/v1/skus/999999", json={"active": False}, headers=headers),
    ):
        assert answer.status_code == 404
        assert answer.json()["type"] == "/problems/not-found"
