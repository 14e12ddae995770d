"""The demo seed against a real, freshly migrated database."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.db import SessionFactory
from core.security import api_key_prefix, hash_api_key, verify_password
from models.db import (
    ApiKey,
    Carrier,
    CarrierCutoff,
    Category,
    FreightRule,
    FreightTemplate,
    Location,
    LocationStock,
    Sku,
    Spu,
    Stock,
    StockMovement,
    Supplier,
    SupplierProduct,
    User,
    UserRole,
    Warehouse,
    WarehouseRegionPriority,
)
from models.domain.access import STAFF_ROLES
from models.domain.logins import LoginPolicy
from workers.seed import (
    DEMO_DEVICE_KEYS,
    DEMO_PASSWORD,
    DEMO_STOREFRONT_KEY,
    DEMO_TOTP_SECRETS,
    demo_credentials,
    seed_demo,
)

TODAY = date(2025, 6, 1)
COUNTED = (
    User, ApiKey, Category, Spu, Sku, FreightTemplate, FreightRule, Warehouse, Location,
    WarehouseRegionPriority, Supplier, SupplierProduct, Carrier, CarrierCutoff, Stock,
    LocationStock, StockMovement,
)  # fmt: skip


async def _counts(session: AsyncSession) -> dict[str, int]:
    return {
        table.__tablename__: await session.scalar(select(func.count()).select_from(table)) or 0
        for table in COUNTED
    }


async def test_seed_loads_catalog_network_and_suppliers(session_factory: SessionFactory) -> None:
    assert await seed_demo(session_factory, today=TODAY) is True

    async with session_factory() as session:
        counts = await _counts(session)
        await _check_catalog(session, counts)
        await _check_freight(session)
        await _check_suppliers(session)


async def _check_catalog(session: AsyncSession, counts: dict[str, int]) -> None:
    warehouses = {w.code: w for w in await session.scalars(select(Warehouse))}
    suppliers = list(await session.scalars(select(Supplier)))
    carriers = {c.code: c.tracking_mode for c in await session.scalars(select(Carrier))}
    skus = list(await session.scalars(select(Sku)))

    assert 18 <= counts["spus"] <= 25 and 45 <= counts["skus"] <= 60
    assert 8 <= counts["categories"] <= 12
    assert set(warehouses) == {"SH01", "GZ01"}
    assert warehouses["SH01"].region_code == "310000"
    assert warehouses["GZ01"].region_code == "440000"
    assert {w.timezone for w in warehouses.values()} == {"Asia/Shanghai"}
    assert sorted(s.status for s in suppliers) == ["approved", "approved", "pending"]
    assert carriers == {"SF": "carrier_issued", "ZTO": "prepurchased_range"}
    assert counts["carrier_cutoffs"] >= 4
    assert len({s.barcode for s in skus}) == len(skus)
    assert all(len(s.barcode) == 13 and s.barcode.isdigit() for s in skus)
    assert all(s.weight_g > 0 and s.list_price_fen > 0 and s.attributes for s in skus)
    assert all(s.freight_template_id is not None for s in skus)
    assert all((s.shelf_life_days is not None) == s.batch_managed for s in skus)
    assert 10 <= sum(s.batch_managed for s in skus) < len(skus)


async def test_staff_users_and_demo_keys_work(session_factory: SessionFactory) -> None:
    await seed_demo(session_factory, today=TODAY)

    async with session_factory() as session:
        users = {u.username: u for u in await session.scalars(select(User))}
        roles = {(r.user_id, r.role) for r in await session.scalars(select(UserRole))}
        keys = list(await session.scalars(select(ApiKey)))
        warehouses = {w.id: w.code for w in await session.scalars(select(Warehouse))}

    assert set(users) == set(STAFF_ROLES)
    assert not verify_password(users["admin"].password_hash, "wrong-password")
    for name, user in users.items():
        assert (user.id, name) in roles
        assert user.display_name and not user.display_name.isascii()
        assert verify_password(user.password_hash, DEMO_PASSWORD)

    storefront = [k for k in keys if k.role == "storefront"]
    assert len(storefront) == 1
    assert storefront[0].key_hash == hash_api_key(DEMO_STOREFRONT_KEY)
    assert storefront[0].prefix == api_key_prefix(DEMO_STOREFRONT_KEY) == "demoshop"
    devices = {warehouses[k.warehouse_id]: k for k in keys if k.role == "device" and k.warehouse_id}
    assert len([k for k in keys if k.role == "device"]) == len(warehouses) == 2
    assert set(devices) == set(DEMO_DEVICE_KEYS) == {"SH01", "GZ01"}
    for code, key in DEMO_DEVICE_KEYS.items():
        assert devices[code].key_hash == hash_api_key(key)
        assert devices[code].prefix == api_key_prefix(key)
    assert all(DEMO_PASSWORD not in k.key_hash for k in keys)

    printed = demo_credentials()
    assert {role for _, _, role in printed} == set(STAFF_ROLES) | {"storefront", "device"}
    assert DEMO_STOREFRONT_KEY in {login for _, login, _ in printed}


async def test_opening_stock_balances_with_the_ledger(session_factory: SessionFactory) -> None:
    await seed_demo(session_factory, today=TODAY)

    async with session_factory() as session:
        stocks = {(s.sku_id, s.warehouse_id): s for s in await session.scalars(select(Stock))}
        ledger = await session.execute(
            select(
                StockMovement.sku_id,
                StockMovement.warehouse_id,
                func.sum(StockMovement.on_hand_delta),
            ).group_by(StockMovement.sku_id, StockMovement.warehouse_id)
        )
        moved = {(sku, wh): int(total) for sku, wh, total in ledger.all()}
        placed = await session.execute(
            select(
                LocationStock.sku_id, LocationStock.warehouse_id, func.sum(LocationStock.quantity)
            ).group_by(LocationStock.sku_id, LocationStock.warehouse_id)
        )
        located = {(sku, wh): int(total) for sku, wh, total in placed.all()}
        movement_types = set(await session.scalars(select(StockMovement.movement_type)))
        sku_count = await session.scalar(select(func.count()).select_from(Sku)) or 0
        await _check_batches(session)

    assert movement_types == {"opening_balance"}
    assert set(moved) == set(located) <= set(stocks)
    for key, stock in stocks.items():
        assert stock.on_hand == moved.get(key, 0) == located.get(key, 0), key
        assert stock.reserved == 0 and stock.in_transit == 0
    assert sum(s.on_hand for s in stocks.values()) > 5000
    per_sku: dict[int, list[int]] = {}
    for (sku_id, _), stock in stocks.items():
        per_sku.setdefault(sku_id, []).append(stock.on_hand)
    assert len(per_sku) == sku_count  # every SKU has a figure somewhere, if only 0
    in_both = [q for q in per_sku.values() if len(q) == 2 and min(q) > 0]
    assert len(in_both) >= sku_count // 2  # most SKUs in both warehouses
    assert any(len(q) == 1 for q in per_sku.values())  # some only in one
    assert any(sum(q) == 0 for q in per_sku.values())  # a few out of stock


async def _check_batches(session: AsyncSession) -> None:
    query = (
        select(LocationStock, Sku.batch_managed, Sku.shelf_life_days, Location)
        .join(Sku, Sku.id == LocationStock.sku_id)
        .join(Location, Location.id == LocationStock.location_id)
    )
    rows = (await session.execute(query)).all()

    assert rows
    batch_counts: dict[tuple[int, int], set[str]] = {}
    for lot, batch_managed, shelf_life, location in rows:
        assert location.kind == "storage" and location.warehouse_id == lot.warehouse_id
        assert lot.quantity > 0
        if not batch_managed:
            assert lot.batch_no == "" and lot.expiry_date is None
            continue
        assert lot.batch_no and lot.production_date and lot.expiry_date
        assert shelf_life is not None
        assert lot.expiry_date - lot.production_date == timedelta(days=shelf_life)
        assert lot.production_date <= TODAY < lot.expiry_date
        batch_counts.setdefault((lot.sku_id, lot.warehouse_id), set()).add(lot.batch_no)
    assert all(2 <= len(b) <= 3 for b in batch_counts.values())
    assert any(
        lot.expiry_date is not None and lot.expiry_date <= TODAY + timedelta(days=30)
        for lot, *_ in rows
    )


async def test_locations_form_a_walkable_grid(session_factory: SessionFactory) -> None:
    await seed_demo(session_factory, today=TODAY)

    async with session_factory() as session:
        locations = list(await session.scalars(select(Location)))
        priorities = list(await session.scalars(select(WarehouseRegionPriority)))
        warehouses = {w.id: w.code for w in await session.scalars(select(Warehouse))}

    assert len({loc.barcode for loc in locations}) == len(locations)
    for wh_id, code in warehouses.items():
        mine = [loc for loc in locations if loc.warehouse_id == wh_id]
        storage = [loc for loc in mine if loc.kind == "storage"]
        assert 150 <= len(storage) <= 200
        assert {loc.zone for loc in storage} == {"A", "B"}
        kinds = {loc.kind for loc in mine}
        assert kinds == {"storage", "receiving", "damage", "pack", "put_wall", "exception"}
        for loc in storage:
            assert loc.code == f"{loc.zone}-{loc.aisle:02d}-{loc.bay:02d}-{loc.level}"
            assert loc.barcode == f"{code}-{loc.code}"
            assert loc.x_cm == loc.aisle * 300
            assert loc.y_cm == 300 + (loc.bay - 1) * 120

    by_region: dict[str, list[int]] = {}
    for p in priorities:
        by_region.setdefault(p.region_code, []).append(p.priority)
    assert len(by_region) == 31
    assert all(sorted(v) == [1, 2] for v in by_region.values())
    first = {(warehouses[p.warehouse_id], p.region_code) for p in priorities if p.priority == 1}
    assert {("SH01", "310000"), ("SH01", "320000"), ("GZ01", "440000")} <= first


async def _check_freight(session: AsyncSession) -> None:
    templates = list(await session.scalars(select(FreightTemplate)))
    rules = list(await session.scalars(select(FreightRule)))
    skus = list(await session.scalars(select(Sku)))

    assert sorted(t.charge_by for t in templates) == ["piece", "volume", "weight"]
    assert any(t.free_over_fen for t in templates)
    assert any("540000" in t.unserviceable_regions for t in templates)
    for template in templates:
        mine = [r for r in rules if r.template_id == template.id]
        assert sum(r.is_default for r in mine) == 1
        assert any("310000" in r.regions for r in mine)
    shared = {s.freight_template_id for s in skus}
    assert len(shared) == 3 and len(skus) > 3  # SKUs share templates


async def _check_suppliers(session: AsyncSession) -> None:
    offers = (await session.execute(select(SupplierProduct, Sku).join(Sku))).all()
    assert offers
    preferred: dict[int, int] = {}
    for offer, sku in offers:
        assert 0 < offer.supply_price_fen < sku.list_price_fen
        assert offer.units_per_purchase_unit >= 1 and offer.lead_time_days >= 1
        preferred[sku.id] = preferred.get(sku.id, 0) + offer.preferred
    assert all(n <= 1 for n in preferred.values())
    assert any(o.purchase_unit == "箱" and o.units_per_purchase_unit > 1 for o, _ in offers)


async def test_seed_runs_once_even_when_started_twice(session_factory: SessionFactory) -> None:
    both = await asyncio.gather(seed_demo(session_factory), seed_demo(session_factory))
    assert sorted(both) == [False, True]
    async with session_factory() as session:
        before = await _counts(session)

    assert await seed_demo(session_factory, today=TODAY + timedelta(days=3)) is False

    async with session_factory() as session:
        assert await _counts(session) == before
    assert before["users"] == len(STAFF_ROLES) and before["stock_movements"] > 0


async def test_demo_admin_and_finance_have_the_published_second_factor(
    session_factory: SessionFactory,
) -> None:
    await seed_demo(session_factory, today=TODAY)

    async with session_factory() as session:
        users = {u.username: u for u in await session.scalars(select(User))}

    assert set(DEMO_TOTP_SECRETS) == set(LoginPolicy().totp_roles) == {"admin", "finance"}
    for name, user in users.items():
        assert user.totp_secret == DEMO_TOTP_SECRETS.get(name)
        assert (user.totp_enabled_at is not None) == (name in DEMO_TOTP_SECRETS)
        assert user.totp_last_step is None
    printed = " ".join(what for what, _, _ in demo_credentials())
    assert all(secret in printed for secret in DEMO_TOTP_SECRETS.values())
