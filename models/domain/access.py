"""Roles and the permissions each route declares (DESIGN §9)."""

from __future__ import annotations

from typing import Final

STAFF_ROLES: Final = frozenset(
    {"admin", "ops", "purchasing", "purchasing_manager", "finance", "cs", "warehouse_manager"}
)
KEY_ROLES: Final = frozenset({"storefront", "device"})
ALL_ROLES: Final = STAFF_ROLES | KEY_ROLES

PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    "self.read": ALL_ROLES,
    "self.security": STAFF_ROLES,  # one's own password and TOTP second factor
    "catalog.read": ALL_ROLES,
    "catalog.write": frozenset({"admin", "ops"}),
    "warehouse.read": STAFF_ROLES | {"device"},
    "warehouse.write": frozenset({"admin", "warehouse_manager"}),
    "stock.read": ALL_ROLES,
    "stock.adjust": frozenset({"admin", "warehouse_manager"}),
    "stock.count": frozenset({"admin", "warehouse_manager"}),
    "stock.count_entry": frozenset({"admin", "warehouse_manager", "device"}),
    "supplier.read": frozenset({"admin", "purchasing", "purchasing_manager", "finance", "ops"}),
    "supplier.write": frozenset({"admin", "purchasing", "purchasing_manager"}),
    "carrier.read": STAFF_ROLES,
    "carrier.write": frozenset({"admin", "ops"}),
    "freight.read": STAFF_ROLES | {"storefront"},
    "freight.write": frozenset({"admin", "ops"}),
    "promotions.read": STAFF_ROLES | {"storefront"},
    "promotions.write": frozenset({"admin", "ops"}),
    "tracking.read": frozenset({"admin", "ops"}),
    "tracking.write": frozenset({"admin", "ops"}),
    "orders.create": frozenset({"storefront"}),
    "orders.read": STAFF_ROLES | {"storefront"},
    "orders.pay": frozenset({"storefront"}),
    "orders.cancel": frozenset({"storefront", "admin", "ops", "cs"}),
    "orders.confirm": frozenset({"storefront"}),
    "orders.review": frozenset({"admin", "ops"}),
    "packages.read": STAFF_ROLES | {"device"},
    "packages.pack": frozenset({"device"}),
    "packages.override": frozenset({"admin", "warehouse_manager"}),
    "packages.decide": frozenset({"admin", "ops", "cs"}),
    "purchase.read": frozenset({"admin", "purchasing", "purchasing_manager", "finance", "ops"})
    | {"warehouse_manager", "device"},
    "purchase.write": frozenset({"admin", "purchasing", "purchasing_manager"}),
    "purchase.approve": frozenset({"admin", "purchasing_manager", "finance"}),
    "purchase.receive": frozenset({"admin", "warehouse_manager", "device"}),
    "purchase.settle": frozenset({"admin", "finance"}),
    "finance.read": frozenset({"admin", "finance"}),
    "finance.reconcile": frozenset({"admin", "finance"}),
    "aftersales.request": frozenset({"storefront"}),
    "aftersales.read": STAFF_ROLES | {"storefront"},
    "aftersales.review": frozenset({"admin", "ops", "cs", "finance"}),
    "aftersales.decide": frozenset({"admin", "cs"}),
    "aftersales.inbound": frozenset({"admin", "warehouse_manager", "device"}),
    "waves.read": frozenset({"admin", "ops", "warehouse_manager", "device"}),
    "waves.plan": frozenset({"admin", "warehouse_manager"}),
    "picking.work": frozenset({"device"}),
    "users.manage": frozenset({"admin"}),
    "audit.read": frozenset({"admin"}),
}

# Permissions whose routes the admin IP allow-list guards.
ADMIN_PERMISSIONS: Final = frozenset({"users.manage", "audit.read"})


def allowed(roles: frozenset[str], permission: str) -> bool:
    """Whether any of `roles` grants `permission`. Unknown permissions grant nothing."""
    return bool(roles & PERMISSIONS.get(permission, frozenset()))
