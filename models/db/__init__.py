"""SQLAlchemy tables. Never imported by workflows."""

from models.db.after_sales import AfterSale, AfterSaleLine
from models.db.audit import AuditEntry
from models.db.auth import ApiKey, Role, RolePermission, User, UserRole, UserWarehouse
from models.db.base import Base
from models.db.catalog import Brand, Category, Sku, Spu
from models.db.customers import CouponBatch, Customer, CustomerCoupon, Segment
from models.db.devices import Device, PackCheck, StaffBadge
from models.db.flash_sales import FlashBuyer, FlashClaim, FlashSale
from models.db.group_buys import GroupBuy, GroupBuyMember, GroupBuyOffer
from models.db.inventory import LocationStock, Stock, StockCost, StockCostEntry, StockMovement
from models.db.logins import LoginFailure
from models.db.logistics import Carrier, CarrierCutoff, FreightPolicy, FreightRule, FreightTemplate
from models.db.loyalty import LevelChange, MemberLevel, PointsAccount, PointsEntry, PointsRules
from models.db.manifests import Manifest, ManifestPackage
from models.db.money import MoneyEntry, OrderRefund, Payment, Refund, RefundCallback
from models.db.notifications import (
    Notification,
    NotificationDelivery,
    NotificationRead,
    NotificationSubscription,
)
from models.db.orders import (
    Order,
    OrderEvent,
    OrderLine,
    OrderNumber,
    Package,
    PackageLine,
    Reservation,
)
from models.db.presales import Presale, PresaleOrder
from models.db.promotions import (
    Coupon,
    CouponRedemption,
    Promotion,
    TrackingAllocation,
    TrackingRange,
)
from models.db.purchase_orders import (
    PurchaseOrder,
    PurchaseOrderEvent,
    PurchaseOrderLine,
    PurchaseReceipt,
    PurchaseReceiptLine,
    PurchaseReturn,
    PurchaseReturnLine,
    ReorderRule,
    SupplierInvoice,
)
from models.db.purchasing import Supplier, SupplierProduct
from models.db.putaway import PutawayPut, PutawayTask
from models.db.reconciliation import ReconciliationDifference, ReconciliationRun
from models.db.reports_buy import (
    ReportMoneyDay,
    ReportPayable,
    ReportPoFact,
    ReportPriceDay,
    ReportReconciliationDay,
    ReportSupplierDay,
)
from models.db.reports_orders import (
    AfterSaleDecisionDay,
    AfterSaleReasonDay,
    AfterSaleSkuDay,
    HandoverTimeDay,
    OrderCancelDay,
    OrderFunnelDay,
    SkuSoldDay,
)
from models.db.reports_stock import (
    PickHourly,
    StockActivity,
    StockDailyOut,
    StockOutDay,
    WarehouseDaily,
)
from models.db.sales_rollup import SalesRollup, SalesRollupBy
from models.db.stock_counts import StockCount, StockCountEntry, StockCountLocation
from models.db.transfers import Transfer, TransferEvent, TransferLine
from models.db.warehouse import Location, Warehouse, WarehouseRegionPriority
from models.db.waves import (
    DeviceScan,
    OutboundOrder,
    PickAllocation,
    PickStop,
    PickTask,
    PutWallLine,
    PutWallSlot,
    Wave,
)

__all__ = [
    "AfterSale",
    "AfterSaleDecisionDay",
    "AfterSaleLine",
    "AfterSaleReasonDay",
    "AfterSaleSkuDay",
    "ApiKey",
    "AuditEntry",
    "Base",
    "Brand",
    "Carrier",
    "CarrierCutoff",
    "Category",
    "Coupon",
    "CouponBatch",
    "CouponRedemption",
    "Customer",
    "CustomerCoupon",
    "Device",
    "DeviceScan",
    "FlashBuyer",
    "FlashClaim",
    "FlashSale",
    "FreightPolicy",
    "FreightRule",
    "FreightTemplate",
    "GroupBuy",
    "GroupBuyMember",
    "GroupBuyOffer",
    "HandoverTimeDay",
    "LevelChange",
    "Location",
    "LocationStock",
    "LoginFailure",
    "Manifest",
    "ManifestPackage",
    "MemberLevel",
    "MoneyEntry",
    "Notification",
    "NotificationDelivery",
    "NotificationRead",
    "NotificationSubscription",
    "Order",
    "OrderCancelDay",
    "OrderEvent",
    "OrderFunnelDay",
    "OrderLine",
    "OrderNumber",
    "OrderRefund",
    "OutboundOrder",
    "PackCheck",
    "Package",
    "PackageLine",
    "Payment",
    "PickAllocation",
    "PickHourly",
    "PickStop",
    "PickTask",
    "PointsAccount",
    "PointsEntry",
    "PointsRules",
    "Presale",
    "PresaleOrder",
    "Promotion",
    "PurchaseOrder",
    "PurchaseOrderEvent",
    "PurchaseOrderLine",
    "PurchaseReceipt",
    "PurchaseReceiptLine",
    "PurchaseReturn",
    "PurchaseReturnLine",
    "PutWallLine",
    "PutWallSlot",
    "PutawayPut",
    "PutawayTask",
    "ReconciliationDifference",
    "ReconciliationRun",
    "Refund",
    "RefundCallback",
    "ReorderRule",
    "ReportMoneyDay",
    "ReportPayable",
    "ReportPoFact",
    "ReportPriceDay",
    "ReportReconciliationDay",
    "ReportSupplierDay",
    "Reservation",
    "Role",
    "RolePermission",
    "SalesRollup",
    "SalesRollupBy",
    "Segment",
    "Sku",
    "SkuSoldDay",
    "Spu",
    "StaffBadge",
    "Stock",
    "StockActivity",
    "StockCost",
    "StockCostEntry",
    "StockCount",
    "StockCountEntry",
    "StockCountLocation",
    "StockDailyOut",
    "StockMovement",
    "StockOutDay",
    "Supplier",
    "SupplierInvoice",
    "SupplierProduct",
    "TrackingAllocation",
    "TrackingRange",
    "Transfer",
    "TransferEvent",
    "TransferLine",
    "User",
    "UserRole",
    "UserWarehouse",
    "Warehouse",
    "WarehouseDaily",
    "WarehouseRegionPriority",
    "Wave",
]
