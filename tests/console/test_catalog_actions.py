"""Catalog and marketing actions in the console: each goes through the API as the person, and
the very next page shows the result; amounts typed as text are exact to the fen (a third decimal
is an error next to the field, nothing is sent); the API's refusals stand next to the field."""

from __future__ import annotations

import csv
import io
import re

import httpx
import openpyxl
from sqlalchemy import func, select

from api.deps import AppDeps
from models.db import Carrier, CarrierCutoff, Category, Coupon, FreightTemplate, Promotion, Sku
from tests.support.console import browser, csrf_of, signed_in, text_of
from tests.support.order_api import staff
from tests.support.stack import Stack


def product_form(**extra: str) -> dict[str, str]:
    return {
        "code": "TEA-01",
        "name": "龙井茶礼盒",
        "category_id": "1",
        "brand_id": "",
        "description": "明前特级",
        "sku_code": "TEA-01-250",
        "sku_name": "龙井茶礼盒 250g",
        "barcode": "6901234500011",
        "price": "33.34",
        "weight_g": "300",
        "volume_cm3": "1200",
        "freight_template_id": "",
        **extra,
    }


def error_next_to(html: str, field: str) -> str:
    match = re.search(rf'data-error-for="{field}">([^<]*)<', html)
    assert match, f"no error next to {field}"
    return match.group(1)


async def test_a_product_created_with_a_price_typed_as_text_is_exact_and_listed(
    stack: Stack, deps: AppDeps
) -> None:
    async with browser(deps) as web:
        await signed_in(web, "ops")
        csrf = csrf_of(web)
        blank = await web.get("/console/catalog/products/new")
        assert (
            '<input type="text" name="price" id="price" value="" required inputmode="decimal">'
            in blank.text
        )

        rounded = await web.post(
            "/console/catalog/products", data={**product_form(price="33.345"), "csrf": csrf}
        )
        assert rounded.status_code == 422
        assert "33.345" in error_next_to(rounded.text, "price")
        assert 'value="33.345"' in rounded.text  # what was typed stays in the form

        refused = await web.post(
            "/console/catalog/products", data={**product_form(weight_g="0"), "csrf": csrf}
        )
        assert refused.status_code == 422
        assert error_next_to(refused.text, "weight_g") == "须大于 0"  # the API's bound, in Chinese
        async with stack.sessions() as session:
            assert await session.scalar(select(Sku).where(Sku.code == "TEA-01-250")) is None

        created = await web.post("/console/catalog/products", data={**product_form(), "csrf": csrf})
        assert created.status_code == 303
        page = await web.get(created.headers["location"])
        assert "商品已创建" in page.text and "¥33.34" in text_of(page.text)
        async with stack.sessions() as session:
            sku = await session.scalar(select(Sku).where(Sku.code == "TEA-01-250"))
        assert sku is not None and sku.list_price_fen == 3334 and sku.active

        listing = await web.get("/console/catalog/skus", params={"q": "TEA-01"})
        assert "龙井茶礼盒 250g" in listing.text and "¥33.34" in listing.text
        assert "共 1 条" in text_of(listing.text)

        # A new price and barcode, then off sale: each shown on the very next page.
        edited = await web.post(
            f"/console/catalog/skus/{sku.id}",
            data={"sku_name": "龙井茶礼盒 250克", "barcode": "6901234500028", "price": "1,288.5",
                  "freight_template_id": "", "csrf": csrf},
        )  # fmt: skip
        assert edited.status_code == 303
        page = await web.get(edited.headers["location"])
        assert (
            "SKU 已保存" in page.text and "¥1,288.50" in page.text and "6901234500028" in page.text
        )
        off = await web.post(
            f"/console/catalog/skus/{sku.id}", data={"active": "false", "csrf": csrf}
        )
        page = await web.get(off.headers["location"])
        assert "已下架" in page.text
        inactive = await web.get("/console/catalog/skus", params={"active": "false"})
        assert "龙井茶礼盒 250克" in inactive.text
        active = await web.get("/console/catalog/skus", params={"active": "true", "q": "TEA"})
        assert "龙井茶礼盒" not in active.text

        exported = await web.get(
            "/console/catalog/skus/export.csv", params={"active": "false", "q": "TEA"}
        )
        rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
        assert rows[0][:3] == ["SKU ID", "SKU 编码", "名称"]
        assert [[*r[1:3], r[5]] for r in rows[1:]] == [
            ["TEA-01-250", "龙井茶礼盒 250克", "1288.50"]
        ]
        workbook = await web.get(
            "/console/catalog/skus/export.xlsx", params={"active": "false", "q": "TEA"}
        )
        assert workbook.headers["content-disposition"].endswith('.xlsx"')
        sheet = openpyxl.load_workbook(io.BytesIO(workbook.content)).active
        assert sheet is not None
        cells = [[c.value for c in row] for row in sheet.iter_rows()]
        assert [[*r[1:3], r[5]] for r in cells] == [
            ["SKU 编码", "名称", "售价（元）"],
            ["TEA-01-250", "龙井茶礼盒 250克", "1288.50"],
        ]


async def test_a_script_in_a_product_name_is_shown_as_text(stack: Stack, deps: AppDeps) -> None:
    script = "<script>alert('x')</script>"
    async with browser(deps) as web:
        await signed_in(web, "ops")
        form = product_form(name=f"坚果{script}", sku_name=f"坚果 {script}", code="XSS-1")
        form["sku_code"] = "XSS-1-1"
        created = await web.post("/console/catalog/products", data={**form, "csrf": csrf_of(web)})
        assert created.status_code == 303
        for page in (
            await web.get(created.headers["location"]),
            await web.get("/console/catalog/skus", params={"q": "XSS"}),
        ):
            assert "<script>alert" not in page.text
            assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page.text


async def test_categories_and_brands_are_added_under_their_parent(
    stack: Stack, deps: AppDeps
) -> None:
    async with stack.sessions() as session:
        parent = await session.scalar(select(Category).where(Category.parent_id.is_(None)))
    assert parent is not None
    async with browser(deps) as web:
        await signed_in(web, "ops")
        answer = await web.post(
            "/console/catalog/categories",
            data={"code": "TEA", "name": "茶叶", "parent_id": str(parent.id), "csrf": csrf_of(web)},
        )
        assert answer.status_code == 303
        page = await web.get(answer.headers["location"])
        assert "类目已新增" in page.text
        tree = text_of(page.text)
        assert f"{parent.name} {parent.code}" in tree and "— 茶叶 TEA" in tree
        duplicate = await web.post(
            "/console/catalog/categories",
            data={"code": "TEA", "name": "茶叶2", "parent_id": "", "csrf": csrf_of(web)},
        )
        assert duplicate.status_code in (409, 422) and 'id="refusal"' in duplicate.text
        brand = await web.post(
            "/console/catalog/brands", data={"brand_name": "西湖茶社", "csrf": csrf_of(web)}
        )
        page = await web.get(brand.headers["location"])
        assert "品牌已新增" in page.text and "西湖茶社" in page.text


async def test_the_freight_quote_tester_prices_a_cart_to_a_region(
    stack: Stack, deps: AppDeps
) -> None:
    async with stack.sessions() as session:
        piece = await session.scalar(
            select(FreightTemplate.id).where(FreightTemplate.code == "FT-PIECE")
        )
        sku = await session.scalar(
            select(Sku)
            .where(Sku.freight_template_id == piece, Sku.list_price_fen < 4950, Sku.active)
            .order_by(Sku.id)
        )
        weight = select(FreightTemplate.id).where(FreightTemplate.code == "FT-WEIGHT")
        food = await session.scalar(
            select(Sku).where(Sku.freight_template_id == weight.scalar_subquery(), Sku.active)
        )
    assert sku is not None and food is not None
    async with browser(deps) as web:
        await signed_in(web, "cs")  # may read freight, may not change it
        east = await web.get(
            "/console/marketing/freight", params={"region": "310101", "sku0": sku.code, "qty0": "2"}
        )
        assert east.status_code == 200
        # FT-PIECE, East China: the first piece ¥5.00, each further piece ¥1.00.
        assert "这些商品寄往 310101 运费 ¥6.00" in text_of(east.text)
        far = await web.get(
            "/console/marketing/freight",
            params={"region": "650101", "sku0": sku.barcode, "qty0": "3"},
        )
        assert "运费 ¥31.00" in text_of(far.text)  # ¥15.00 + 2 × ¥8.00
        # FT-WEIGHT does not ship to the far west: said in Chinese next to the region
        not_served = await web.get(
            "/console/marketing/freight", params={"region": "650101", "sku0": food.code}
        )
        assert not_served.status_code == 422
        assert error_next_to(not_served.text, "region") == f"商品 {food.id} 不配送到 650101"

        bad = await web.get(
            "/console/marketing/freight", params={"region": "31", "sku0": "NO-SUCH-SKU"}
        )
        assert bad.status_code == 422
        assert "6 位数字" in error_next_to(bad.text, "region")
        assert "NO-SUCH-SKU" in error_next_to(bad.text, "sku0")


async def test_promotions_and_coupons_with_amounts_typed_as_text(
    stack: Stack, deps: AppDeps
) -> None:
    async with browser(deps) as web:
        await signed_in(web, "ops")
        csrf = csrf_of(web)
        created = await web.post(
            "/console/marketing/promotions",
            data={"name": "满百减十", "threshold": "100", "off": "10.5", "csrf": csrf},
        )
        assert created.status_code == 303
        page = await web.get(created.headers["location"])
        assert "促销已创建" in page.text
        assert "满 ¥100.00 减 ¥10.50" in text_of(page.text)
        async with stack.sessions() as session:
            promotion = await session.scalar(select(Promotion).where(Promotion.name == "满百减十"))
        assert promotion is not None and promotion.active
        assert promotion.rule["tiers"] == [{"threshold_fen": 10000, "off_fen": 1050}]

        off = await web.post(
            f"/console/marketing/promotions/{promotion.id}/active",
            data={"active": "false", "csrf": csrf},
        )
        page = await web.get(off.headers["location"], params={"active": "false"})
        assert "已停用" in page.text and "满百减十" in page.text

        inexact = await web.post(
            "/console/marketing/coupons",
            data={"code": "SAVE5", "kind": "fixed", "amount_off": "5.555", "csrf": csrf},
        )
        assert inexact.status_code == 422
        assert "5.555" in error_next_to(inexact.text, "amount_off")
        coupon = await web.post(
            "/console/marketing/coupons",
            data={"code": "SAVE5", "kind": "fixed", "amount_off": "5.5", "min_spend": "50",
                  "per_customer_limit": "1", "csrf": csrf},
        )  # fmt: skip
        assert coupon.status_code == 303
        page = await web.get(coupon.headers["location"])
        assert "减 ¥5.50，满 ¥50.00 可用" in text_of(page.text)
        async with stack.sessions() as session:
            row = await session.scalar(select(Coupon).where(Coupon.code == "SAVE5"))
        assert row is not None and row.rule["amount_off_fen"] == 550
        assert row.rule["min_spend_fen"] == 5000
        twice = await web.post(
            "/console/marketing/coupons",
            data={"code": "SAVE5", "kind": "fixed", "amount_off": "6", "csrf": csrf},
        )
        assert twice.status_code == 422  # the API's 409, said next to the code in Chinese
        assert error_next_to(twice.text, "code") == "优惠券编码 SAVE5 已存在"

        async with stack.sessions() as session:  # more coupons than one page holds
            session.add_all(
                Coupon(code=f"BULK{i:03d}", rule={**row.rule}, active=True) for i in range(60)
            )
            await session.commit()
            total = await session.scalar(select(func.count()).select_from(Coupon))
        assert total is not None and 60 < total <= 100
        first = await web.get("/console/marketing/promotions")
        assert f"共 {total} 条" in text_of(first.text)
        assert len(re.findall(r'data-coupon="', first.text)) == 50
        second = await web.get("/console/marketing/promotions", params={"coupon_page": "2"})
        assert len(re.findall(r'data-coupon="', second.text)) == total - 50
        assert "SAVE5" in first.text + second.text


async def test_carrier_cutoffs_are_set_per_warehouse(stack: Stack, deps: AppDeps) -> None:
    async with stack.sessions() as session:
        carrier = await session.scalar(select(Carrier).order_by(Carrier.id))
        warehouse_id = await session.scalar(
            select(CarrierCutoff.warehouse_id).order_by(CarrierCutoff.warehouse_id)
        )
    assert carrier is not None and warehouse_id is not None
    async with browser(deps) as web:
        await signed_in(web, "ops")
        wrong = await web.post(
            f"/console/marketing/carriers/{carrier.id}/cutoffs",
            data={f"cutoff_{warehouse_id}": "16:00, 25:00", "csrf": csrf_of(web)},
        )
        assert wrong.status_code == 422
        assert "25:00" in error_next_to(wrong.text, f"cutoff_{warehouse_id}")
        saved = await web.post(
            f"/console/marketing/carriers/{carrier.id}/cutoffs",
            data={f"cutoff_{warehouse_id}": "16:00, 18:30", "csrf": csrf_of(web)},
        )
        assert saved.status_code == 303
        page = await web.get(saved.headers["location"])
        assert "截单时间已保存" in page.text
        assert 'value="16:00, 18:30"' in page.text
    async with stack.sessions() as session:
        times = await session.scalars(
            select(CarrierCutoff.cutoff_local)
            .where(CarrierCutoff.carrier_id == carrier.id)
            .order_by(CarrierCutoff.cutoff_local)
        )
        assert [t.strftime("%H:%M") for t in times] == ["16:00", "18:30"]


async def test_the_quote_api_names_the_field_it_refuses(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    headers = await staff(api, "ops")
    unknown = await api.post(
        "/v1/freight-quote",
        json={"region_code": "310101", "lines": [{"sku_id": 999999, "quantity": 1}]},
        headers=headers,
    )
    assert unknown.status_code == 422
    assert [e["field"] for e in unknown.json()["errors"]] == ["lines"]


async def test_freight_templates_and_the_policy_are_edited_with_amounts_as_text(
    stack: Stack, deps: AppDeps
) -> None:
    async with browser(deps) as web:
        await signed_in(web, "ops")
        csrf = csrf_of(web)
        form = {"code": "FT-TEA", "name": "茶叶专用", "charge_by": "piece", "free_over": "",
                "rules": "310000 320000; 1; 6.5; 1; 1.005\n*; 1; 9; 1; 2", "unserviceable": "",
                "csrf": csrf}  # fmt: skip
        inexact = await web.post("/console/marketing/freight/templates", data=form)
        assert inexact.status_code == 422
        assert "第 1 行" in error_next_to(inexact.text, "rules")
        two_defaults = await web.post(
            "/console/marketing/freight/templates",
            data={**form, "rules": "*; 1; 9; 1; 2\n*; 1; 8; 1; 2"},
        )
        assert two_defaults.status_code == 422
        assert error_next_to(two_defaults.text, "rules")  # the API's words, next to the rules

        created = await web.post(
            "/console/marketing/freight/templates",
            data={**form, "rules": "310000 320000; 1; 6.5; 1; 1.05\n*; 1; 9; 1; 2",
                  "free_over": "199"},
        )  # fmt: skip
        assert created.status_code == 303
        page = await web.get(created.headers["location"])
        assert "运费模板已保存" in page.text
        assert "310000, 320000: 首 1 ¥6.50，每续 1 加 ¥1.05" in text_of(page.text)
        assert "310000 320000; 1; 6.50; 1; 1.05" in page.text  # the edit form, as typed back
        async with stack.sessions() as session:
            template = await session.scalar(
                select(FreightTemplate).where(FreightTemplate.code == "FT-TEA")
            )
        assert template is not None and template.free_over_fen == 19900

        policy = await web.post(
            "/console/marketing/freight/policy",
            data={"mode": "fixed", "fixed_fee": "8.8", "policy_free_over": "88", "combine": "max",
                  "csrf": csrf},
        )  # fmt: skip
        assert policy.status_code == 303
        page = await web.get(policy.headers["location"])
        assert "平台运费策略已保存" in page.text
        assert "固定运费 ¥8.80" in text_of(page.text) and "满额包邮 ¥88.00" in text_of(page.text)
