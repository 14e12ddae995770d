"""Demo data for a fresh install: staff users, demo API keys, catalog, freight, warehouses,
suppliers, carriers and opening stock (through the stock ledger, so it balances).

`seed_demo` loads everything in one transaction, and only into a database without users."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import SessionFactory
from core.security import api_key_prefix, hash_api_key, hash_password
from models.db import (
    ApiKey,
    Brand,
    Carrier,
    CarrierCutoff,
    Category,
    FreightRule,
    FreightTemplate,
    Location,
    Sku,
    Spu,
    Stock,
    Supplier,
    SupplierProduct,
    User,
    UserRole,
    Warehouse,
    WarehouseRegionPriority,
)
from services.stock_ledger import BatchRef, Document, move_on_hand
from workers import demo_data as data

# Demo credentials: public on purpose (printed by `houtai up`); never use them in production.
DEMO_PASSWORD = "houtai-demo"  # noqa: S105
# The demo admin and finance users sign in with a TOTP code as well (DESIGN §9): add these
# secrets to an authenticator app (or compute codes with core.totp); public like the password.
DEMO_TOTP_SECRETS: dict[str, str] = {
    "admin": "HOUTAIDEMOADMINTOTPNOTSECRETAAAA",
    "finance": "HOUTAIDEMOFINANCETOTPNOTSECRETAA",
}
DEMO_STOREFRONT_KEY = "hk_demoshop_houtai-demo-storefront-key-not-secret"
DEMO_DEVICE_KEYS: dict[str, str] = {
    "SH01": "hk_demosh01_houtai-demo-device-key-shanghai-not-secret",
    "GZ01": "hk_demogz01_houtai-demo-device-key-guangzhou-not-secret",
}
OPENING_DOC = Document(
    ref_type="opening_balance", ref_no="OB-DEMO", actor="system:seed", reason="演示数据期初库存"
)


@dataclass(frozen=True)
class DemoCredentials:
    what: str
    login: str  # a username (password DEMO_PASSWORD) or an API key
    role: str

    def as_row(self) -> tuple[str, str, str]:
        return (self.what, self.login, self.role)


def demo_credential_list() -> list[DemoCredentials]:
    users = [
        DemoCredentials(f"{name}（密码 {DEMO_PASSWORD}{_totp_note(username)}）", username, username)
        for username, name in data.STAFF_USERS
    ]
    names = {row.code: row.name for row in data.WAREHOUSES}
    keys = [DemoCredentials("演示商城 API 密钥", DEMO_STOREFRONT_KEY, "storefront")]
    keys += [
        DemoCredentials(f"{names[code]} 设备 API 密钥", key, "device")
        for code, key in DEMO_DEVICE_KEYS.items()
    ]
    return users + keys


def _totp_note(username: str) -> str:
    secret = DEMO_TOTP_SECRETS.get(username)
    return f"，TOTP 密钥 {secret}" if secret else ""


def demo_credentials() -> list[tuple[str, str, str]]:
    """(what, login or key, role) for every demo credential, for the launcher to print."""
    return [credential.as_row() for credential in demo_credential_list()]


async def seed_demo(session_factory: SessionFactory, *, today: date | None = None) -> bool:
    """Load the demo data if the database has no users yet. True if loaded, False if skipped."""
    day = today or datetime.now(ZoneInfo(data.DEMO_TIMEZONE)).date()
    async with session_factory() as session, session.begin():
        # Two seeders started together: the second waits here, then finds the users.
        await session.execute(text("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"))
        if await session.scalar(select(func.count()).select_from(User)):
            return False
        await _load(session, day)
    return True


@dataclass(frozen=True)
class _SeededSku:
    index: int
    product: data.Product
    sku: Sku


@dataclass(frozen=True)
class _SeededWarehouse:
    warehouse: Warehouse
    storage: list[Location]  # in the order of data.storage_slots()


async def _load(session: AsyncSession, today: date) -> None:
    await _add_users(session)
    templates = await _add_freight_templates(session)
    skus = await _add_catalog(session, templates)
    warehouses = await _add_warehouses(session)
    await _add_api_keys(session, warehouses)
    await _add_suppliers(session, skus)
    await _add_carriers(session, warehouses)
    await _add_opening_stock(session, skus, warehouses, today)


async def _add_users(session: AsyncSession) -> None:
    # Each user gets its own salt; the slow KDF runs off the event loop.
    hashes = await asyncio.to_thread(
        lambda: [hash_password(DEMO_PASSWORD) for _ in data.STAFF_USERS]
    )
    enabled = datetime.now(UTC)
    users = [
        User(
            username=username,
            display_name=display_name,
            password_hash=password_hash,
            totp_secret=DEMO_TOTP_SECRETS.get(username),
            totp_enabled_at=enabled if username in DEMO_TOTP_SECRETS else None,
        )
        for (username, display_name), password_hash in zip(data.STAFF_USERS, hashes, strict=True)
    ]
    session.add_all(users)
    await session.flush()
    session.add_all(UserRole(user_id=user.id, role=user.username) for user in users)
    await session.flush()


async def _add_freight_templates(session: AsyncSession) -> dict[str, FreightTemplate]:
    templates = {
        row.code: FreightTemplate(
            code=row.code,
            name=row.name,
            charge_by=row.charge_by,
            free_over_fen=row.free_over_fen,
            unserviceable_regions=list(row.unserviceable),
        )
        for row in data.TEMPLATES
    }
    session.add_all(templates.values())
    await session.flush()
    for row in data.TEMPLATES:
        session.add_all(_rule(templates[row.code].id, rule) for rule in row.rules)
    await session.flush()
    return templates


def _rule(template_id: int, rule: data.Rule) -> FreightRule:
    return FreightRule(
        template_id=template_id,
        regions=list(rule.regions),
        is_default=not rule.regions,
        first_units=rule.first_units,
        first_price_fen=rule.first_price_fen,
        additional_units=rule.additional_units,
        additional_price_fen=rule.additional_price_fen,
    )


async def _add_categories(session: AsyncSession) -> dict[str, Category]:
    categories: dict[str, Category] = {}
    for code, name, parent in data.CATEGORIES:  # parents come first
        parent_id = categories[parent].id if parent else None
        categories[code] = Category(code=code, name=name, parent_id=parent_id)
        session.add(categories[code])
        await session.flush()
    return categories


async def _add_catalog(
    session: AsyncSession, templates: dict[str, FreightTemplate]
) -> list[_SeededSku]:
    categories = await _add_categories(session)
    brands = {name: Brand(name=name) for name in data.BRANDS}
    session.add_all(brands.values())
    await session.flush()
    seeded: list[_SeededSku] = []
    for product in data.PRODUCTS:
        spu = Spu(
            code=product.code,
            name=product.name,
            category_id=categories[product.category].id,
            brand_id=brands[product.brand].id,
            description=product.description,
        )
        session.add(spu)
        await session.flush()
        for number, variant in enumerate(product.variants, start=1):
            sku = _sku(spu, product, variant, number, len(seeded) + 1)
            sku.freight_template_id = templates[product.template].id
            session.add(sku)
            seeded.append(_SeededSku(len(seeded), product, sku))
    await session.flush()
    return seeded


def _sku(spu: Spu, product: data.Product, variant: data.Variant, number: int, serial: int) -> Sku:
    return Sku(
        spu_id=spu.id,
        code=f"{product.code}-{number:02d}",
        name=data.sku_name(product, variant),
        barcode=data.ean13(serial),
        weight_g=variant.weight_g,
        volume_cm3=variant.volume_cm3,
        list_price_fen=variant.price_fen,
        attributes=dict(variant.attributes),
        batch_managed=product.shelf_life_days is not None,
        shelf_life_days=product.shelf_life_days,
    )


async def _add_warehouses(session: AsyncSession) -> dict[str, _SeededWarehouse]:
    seeded: dict[str, _SeededWarehouse] = {}
    for row in data.WAREHOUSES:
        warehouse = Warehouse(
            code=row.code,
            name=row.name,
            region_code=row.region_code,
            timezone=data.DEMO_TIMEZONE,
            address=row.address,
        )
        session.add(warehouse)
        await session.flush()
        session.add_all(
            WarehouseRegionPriority(
                warehouse_id=warehouse.id, region_code=code, priority=1 if code in row.near else 2
            )
            for code in data.PROVINCE_CODES
        )
        storage = [_location(warehouse, slot) for slot in data.storage_slots()]
        session.add_all(storage)
        session.add_all(_location(warehouse, slot) for slot in data.OPERATION_SLOTS)
        seeded[row.code] = _SeededWarehouse(warehouse, storage)
    await session.flush()
    return seeded


def _location(warehouse: Warehouse, slot: data.Slot) -> Location:
    return Location(
        warehouse_id=warehouse.id,
        code=slot.code,
        barcode=f"{warehouse.code}-{slot.code}",
        kind=slot.kind,
        zone=slot.zone,
        aisle=slot.aisle,
        bay=slot.bay,
        level=slot.level,
        x_cm=slot.x_cm,
        y_cm=slot.y_cm,
    )


def _api_key(name: str, key: str, role: str, warehouse_id: int | None) -> ApiKey:
    prefix = api_key_prefix(key)
    if prefix is None:
        raise ValueError(f"malformed demo API key for {name}")
    return ApiKey(
        name=name, prefix=prefix, key_hash=hash_api_key(key), role=role, warehouse_id=warehouse_id
    )


async def _add_api_keys(session: AsyncSession, warehouses: dict[str, _SeededWarehouse]) -> None:
    session.add(_api_key("演示商城", DEMO_STOREFRONT_KEY, "storefront", None))
    for code, key in DEMO_DEVICE_KEYS.items():
        warehouse = warehouses[code].warehouse
        session.add(_api_key(f"{warehouse.name} 手持终端", key, "device", warehouse.id))
    await session.flush()


async def _add_suppliers(session: AsyncSession, skus: list[_SeededSku]) -> None:
    suppliers = {
        row.code: Supplier(
            code=row.code,
            name=row.name,
            contact_name=row.contact_name,
            phone=row.phone,
            email=row.email,
            payment_terms_days=row.payment_terms_days,
            status=row.status,
        )
        for row in data.SUPPLIERS
    }
    session.add_all(suppliers.values())
    await session.flush()
    for term in data.SUPPLY_TERMS:
        session.add_all(
            SupplierProduct(
                supplier_id=suppliers[term.supplier].id,
                sku_id=seeded.sku.id,
                supply_price_fen=seeded.sku.list_price_fen * term.price_percent // 100,
                purchase_unit=term.purchase_unit,
                units_per_purchase_unit=term.units_per_purchase_unit,
                lead_time_days=term.lead_time_days,
                preferred=term.preferred,
            )
            for seeded in skus
            if seeded.product.category == term.category
        )
    await session.flush()


async def _add_carriers(session: AsyncSession, warehouses: dict[str, _SeededWarehouse]) -> None:
    carriers = {
        code: Carrier(code=code, name=name, tracking_mode=mode)
        for code, name, mode in data.CARRIERS
    }
    session.add_all(carriers.values())
    await session.flush()
    session.add_all(
        CarrierCutoff(
            carrier_id=carriers[carrier].id,
            warehouse_id=warehouses[warehouse].warehouse.id,
            cutoff_local=cutoff,
        )
        for carrier, warehouse, cutoff in data.CARRIER_CUTOFFS
    )
    await session.flush()


async def _add_opening_stock(
    session: AsyncSession,
    skus: list[_SeededSku],
    warehouses: dict[str, _SeededWarehouse],
    today: date,
) -> None:
    """Every unit enters through the ledger as an opening balance. A SKU out of stock
    everywhere gets a zero row per warehouse, so it shows as 0 rather than as not carried."""
    for seeded in skus:
        quantities = data.opening_quantities(seeded.index)
        if not quantities:
            session.add_all(
                Stock(sku_id=seeded.sku.id, warehouse_id=target.warehouse.id)
                for target in warehouses.values()
            )
        for code, quantity in quantities.items():
            await _add_lots(session, seeded, warehouses[code], quantity, today)
    await session.flush()


# The demo's opening stock is valued at this share of the list price (the inventory cost).
DEMO_COST_PERCENT = 60


async def _add_lots(
    session: AsyncSession,
    seeded: _SeededSku,
    target: _SeededWarehouse,
    quantity: int,
    today: date,
) -> None:
    code, shelf_life = target.warehouse.code, seeded.product.shelf_life_days
    for lot in data.lots(seeded.index, code, quantity, shelf_life, today):
        batch = BatchRef(
            location_id=target.storage[lot.slot_index].id,
            batch_no=lot.batch_no,
            production_date=lot.production_date,
            expiry_date=lot.expiry_date,
        )
        await move_on_hand(
            session,
            movement_type="opening_balance",
            sku_id=seeded.sku.id,
            warehouse_id=target.warehouse.id,
            batch=batch,
            quantity=lot.quantity,
            doc=OPENING_DOC,
            unit_cost_fen=seeded.sku.list_price_fen * DEMO_COST_PERCENT // 100,
        )


# Under `houtai up` the demo company's group chats and mailboxes are the sandbox's: each deciding
# role's 企业微信 robot (key = the role), the warehouse managers' 钉钉 robot, and e-mail to the
# approvers, so a notification raised by the demo goes all the way out (README "Notifications").
DEMO_WECOM_ROLES = ("ops", "purchasing", "purchasing_manager", "finance", "cs", "warehouse_manager")
DEMO_MAIL_ROLES = ("purchasing_manager", "finance")


async def seed_demo_channels(session_factory: SessionFactory, robots_url: str) -> int:
    """The demo subscriptions (once: an existing one is kept). Returns how many were added."""
    from sqlalchemy.dialects.postgresql import insert

    from models.db import NotificationSubscription

    rows = [
        {
            "role": role,
            "channel": "wecom",
            "target": f"{robots_url}/cgi-bin/webhook/send?key={role}",
        }
        for role in DEMO_WECOM_ROLES
    ]
    rows.append({"role": "warehouse_manager", "channel": "dingtalk",
                 "target": f"{robots_url}/robot/send?access_token=warehouse"})  # fmt: skip
    rows += [
        {"role": r, "channel": "email", "target": f"{r}@houtai.example"} for r in DEMO_MAIL_ROLES
    ]
    async with session_factory() as session:
        added = await session.execute(
            insert(NotificationSubscription).values(rows).on_conflict_do_nothing()
        )
        await session.commit()
    return int(getattr(added, "rowcount", 0) or 0)
