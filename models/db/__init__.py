"""SQLAlchemy tables. Never imported by workflows."""

from models.db.audit import AuditEntry
from models.db.auth import ApiKey, Role, User, UserRole
from models.db.base import Base
from models.db.catalog import Brand, Category, Sku, Spu
from models.db.inventory import LocationStock, Stock, StockMovement
from models.db.logistics import Carrier, CarrierCutoff, FreightPolicy, FreightRule, FreightTemplate
from models.db.purchasing import Supplier, SupplierProduct
from models.db.warehouse import Location, Warehouse, WarehouseRegionPriority

__all__ = [
    "ApiKey",
    "AuditEntry",
    "Base",
    "Brand",
    "Carrier",
    "CarrierCutoff",
    "Category",
    "FreightPolicy",
    "FreightRule",
    "FreightTemplate",
    "Location",
    "LocationStock",
    "Role",
    "Sku",
    "Spu",
    "Stock",
    "StockMovement",
    "Supplier",
    "SupplierProduct",
    "User",
    "UserRole",
    "Warehouse",
    "WarehouseRegionPriority",
]
