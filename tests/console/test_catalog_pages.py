"""The catalog, marketing and admin pages for every built-in staff role: what the role may see
renders, what it may not answers the 403 page (never a trace or an empty table), the menu offers
only what is allowed; forms without the page's CSRF token are refused and change nothing."""

from __future__ import annotations

from sqlalchemy import func, select

from api.deps import AppDeps
from models.db import ApiKey, Category, Coupon, Spu, User
from models.domain.access import allowed
from tests.support.console import STAFF_ROLES, browser, csrf_of, signed_in, text_of
from tests.support.stack import Stack

PAGES = (
    ("/console/catalog/skus", "catalog.read", "商品 SKU"),
    (
        "/console/catalog/skus?active=true&sort=-list_price_fen&q=%E7%89%9B",
        "catalog.read",
        "手撕牛肉干",
    ),
    ("/console/catalog/categories", "catalog.read", "类目树"),
    ("/console/catalog/products/{product}", "catalog.read", "手撕牛肉干"),
    ("/console/catalog/products/new", "catalog.write", "第一个 SKU"),
    ("/console/marketing/freight", "freight.read", "按件计费（小件）"),
    ("/console/marketing/promotions", "promotions.read", "优惠券"),
    ("/console/marketing/carriers", "carrier.read", "截单时间"),
    ("/console/admin/users", "users.manage", "warehouse_manager"),
    ("/console/admin/users/{user}", "users.manage", "角色与仓库范围"),
    ("/console/admin/roles", "users.manage", "组合新角色"),
    ("/console/admin/api-keys", "users.manage", "新建 API 密钥"),
    ("/console/admin/audit", "audit.read", "审计日志"),
)
MENU = (
    ("/console/catalog/skus", "catalog.read"),
    ("/console/marketing/promotions", "promotions.read"),
    ("/console/marketing/freight", "freight.read"),
    ("/console/marketing/carriers", "carrier.read"),
    ("/console/admin/users", "users.manage"),
    ("/console/admin/audit", "audit.read"),
)


async def _ids(stack: Stack) -> dict[str, int]:
    """Ids from the database (an admin's API sign-in would spend the TOTP step the console's
    sign-in needs)."""
    async with stack.sessions() as session:
        product = await session.scalar(select(Spu.id).where(Spu.code == "SP002"))
        user = await session.scalar(select(User.id).where(User.username == "cs"))
    assert product is not None and user is not None
    return {"product": product, "user": user}


async def test_every_page_for_every_staff_role_renders_or_is_the_403_page(
    stack: Stack, deps: AppDeps
) -> None:
    ids = await _ids(stack)
    for role in STAFF_ROLES:
        async with browser(deps) as web:
            await signed_in(web, role)
            home = await web.get("/console/")
            for path, permission in MENU:
                shown = f'href="{path}"' in home.text
                assert shown == allowed(frozenset({role}), permission), (role, path)
            for template, permission, words in PAGES:
                path = template.format(**ids)
                page = await web.get(path)
                if allowed(frozenset({role}), permission):
                    assert page.status_code == 200, (role, path, page.text[:500])
                    assert words in text_of(page.text), (role, path)
                else:
                    assert page.status_code == 403, (role, path)
                    assert "无权访问" in page.text and "Traceback" not in page.text
            for nonsense in ("/console/catalog/products/abc", "/console/catalog/products/99999"):
                missing = await web.get(nonsense)
                assert missing.status_code == 404 and "未找到" in missing.text, (role, nonsense)
            for export in ("/console/catalog/skus/export.csv", "/console/admin/audit/export.csv"):
                answer = await web.get(export)
                permission = "catalog.read" if "catalog" in export else "audit.read"
                expected = 200 if allowed(frozenset({role}), permission) else 403
                assert answer.status_code == expected, (role, export)


async def test_roles_that_may_not_write_get_the_403_page_and_nothing_changes(
    stack: Stack, deps: AppDeps
) -> None:
    posts = (
        ("/console/catalog/categories", {"code": "NEW-CAT", "name": "新类目"}, "catalog.write"),
        ("/console/marketing/coupons", {"code": "NOPE5", "amount_off": "5"}, "promotions.write"),
        ("/console/admin/api-keys", {"name": "偷偷", "role": "storefront"}, "users.manage"),
    )
    for role in ("cs", "purchasing", "warehouse_manager", "finance"):
        async with browser(deps) as web:
            await signed_in(web, role)
            for path, form, permission in posts:
                assert not allowed(frozenset({role}), permission)
                answer = await web.post(path, data={**form, "csrf": csrf_of(web)})
                assert answer.status_code == 403, (role, path)
                assert "无权访问" in answer.text
    async with stack.sessions() as session:
        assert await session.scalar(select(func.count()).where(Category.code == "NEW-CAT")) == 0
        assert await session.scalar(select(func.count()).where(Coupon.code == "NOPE5")) == 0
        assert await session.scalar(select(func.count()).where(ApiKey.name == "偷偷")) == 0


async def test_forms_without_the_right_csrf_token_are_refused(stack: Stack, deps: AppDeps) -> None:
    product = {
        "code": "CSRF-P",
        "name": "不该出现",
        "category_id": "1",
        "sku_code": "CSRF-S",
        "sku_name": "不该出现",
        "barcode": "6900000000999",
        "price": "1.00",
        "weight_g": "10",
        "volume_cm3": "0",
    }
    async with browser(deps) as web:
        await signed_in(web, "admin")
        for path, form in (
            ("/console/catalog/products", product),
            ("/console/admin/api-keys", {"name": "csrf-key", "role": "storefront"}),
            ("/console/marketing/coupons", {"code": "CSRF5", "amount_off": "5"}),
        ):
            missing = await web.post(path, data=form)
            wrong = await web.post(path, data={**form, "csrf": "x" * 43})
            for answer in (missing, wrong):
                assert answer.status_code == 403, path
                assert "请求已失效" in answer.text
    async with stack.sessions() as session:
        assert await session.scalar(select(func.count()).where(Spu.code == "CSRF-P")) == 0
        assert await session.scalar(select(func.count()).where(ApiKey.name == "csrf-key")) == 0
        assert await session.scalar(select(func.count()).where(Coupon.code == "CSRF5")) == 0
