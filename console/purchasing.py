"""Purchasing: suppliers and what they supply; purchase orders (list with filters, sort, pages,
CSV/XLSX export; detail with approvals, receipts and returns; create with a line editor; submit,
approve/reject, cancel, close short); reorder rules, low stock and replenishing now.

Mirrors api/routes/suppliers.py, purchase_orders.py and replenishment.py: the API decides, the
pages show its answers (a refusal next to the field it names)."""

from __future__ import annotations

from fastapi import APIRouter

from console import po_editor, purchase_orders, replenishment, suppliers
from console.pages import MenuItem

# The part's screens, each its own module; the editor first: /purchase-orders/new before
# /purchase-orders/{po_no}.
router = APIRouter()
for screen in (po_editor, purchase_orders, suppliers, replenishment):
    router.include_router(screen.router)
MENU = (
    MenuItem("nav.purchase_orders", "/purchase-orders", "purchase.read"),
    MenuItem("nav.suppliers", "/suppliers", "supplier.read"),
    MenuItem("nav.replenishment", "/replenishment", "purchase.read"),
)
