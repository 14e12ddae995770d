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
    "stock.move": frozenset({"admin", "warehouse_manager", "device"}),  # 移库 between locations
    "supplier.read": frozenset({"admin", "purchasing", "purchasing_manager", "finance", "ops"}),
    "supplier.write": frozenset({"admin", "purchasing", "purchasing_manager"}),
    "carrier.read": STAFF_ROLES,
    "carrier.write": frozenset({"admin", "ops"}),
    "freight.read": STAFF_ROLES | {"storefront"},
    "freight.write": frozenset({"admin", "ops"}),
    "promotions.read": STAFF_ROLES | {"storefront"},
    "promotions.write": frozenset({"admin", "ops"}),
    # members: levels and points (DESIGN §6.7); the storefront reads a customer's balance
    "loyalty.read": STAFF_ROLES | {"storefront"},
    "loyalty.write": frozenset({"admin", "ops"}),
    "loyalty.adjust": frozenset({"admin", "cs"}),
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
    # transfers between warehouses (调拨): approving is also limited to the source's managers
    "transfers.read": STAFF_ROLES | {"device"},
    "transfers.request": frozenset({"admin", "ops", "warehouse_manager"}),
    "transfers.approve": frozenset({"admin", "warehouse_manager"}),
    "transfers.ship": frozenset({"admin", "warehouse_manager"}),
    "transfers.receive": frozenset({"admin", "warehouse_manager", "device"}),
    "devices.self": frozenset({"device"}),  # a handheld's own state, its worker's sign-in
    "users.manage": frozenset({"admin"}),
    "audit.read": frozenset({"admin"}),
    # Personal data (DESIGN §9): staff views show phones and addresses masked; revealing one is
    # an audited call that needs this. The storefront sees its own orders' data, which it sent.
    "pii.read": frozenset({"admin", "cs"}),
    # Customers as records (DESIGN §6.7): the storefront upserts its own; staff find and read
    # them (masked, see pii.read), define segments and issue coupons to them.
    "customers.write": frozenset({"storefront"}),
    "customers.read": frozenset({"admin", "ops", "cs"}),
    "segments.read": frozenset({"admin", "ops", "cs"}),
    "segments.write": frozenset({"admin", "ops"}),
}

# Permissions whose routes the admin IP allow-list guards.
ADMIN_PERMISSIONS: Final = frozenset({"users.manage", "audit.read"})


# Permissions whose routes take the caller to be a key (the storefront that owns the order, the
# device bound to a warehouse): a composed staff role cannot hold them.
KEY_ONLY_PERMISSIONS: Final = frozenset(
    {
        "orders.create",
        "customers.write",
        "orders.pay",
        "orders.confirm",
        "packages.pack",
        "picking.work",
        "devices.self",
    }
)
# What a paired handheld does only with a worker signed in on it (their badge), so that every
# scan, pick, pack and receipt names the worker as well as the device.
WORKER_PERMISSIONS: Final = frozenset(
    {
        "picking.work",
        "packages.pack",
        "purchase.receive",
        "stock.count_entry",
        "stock.move",
        "aftersales.inbound",
        "transfers.receive",
    }
)
# What an admin may compose a role from. aftersales.request is in: customer service may file an
# after-sale on a customer's behalf (and then cannot decide it, see after_sale decide).
COMPOSABLE_PERMISSIONS: Final = frozenset(PERMISSIONS) - KEY_ONLY_PERMISSIONS


def preset(role: str) -> frozenset[str]:
    """The permissions a built-in role grants (its preset); nothing for any other name."""
    return frozenset(p for p, roles in PERMISSIONS.items() if role in roles)


def allowed(roles: frozenset[str], permission: str) -> bool:
    """Whether any of `roles` grants `permission`. Unknown permissions grant nothing."""
    return bool(roles & PERMISSIONS.get(permission, frozenset()))
