"""build_worker: the one wiring of workflows and activities, used by the CLI and by tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.worker import Worker

from activities.after_sales import AfterSaleActivities
from activities.customers import CustomerActivities
from activities.data_errors import DataErrorInterceptor
from activities.diagnostics import DiagnosticsActivities
from activities.flash_sales import FlashSaleActivities
from activities.group_buys import GroupBuyActivities
from activities.inventory import InventoryActivities
from activities.loyalty import LoyaltyActivities
from activities.orders import OrderActivities
from activities.payments import PaymentActivities
from activities.presales import PresaleActivities
from activities.providers import CarrierClient, PaymentProvider, SupplierClient
from activities.purchasing import PurchasingActivities
from activities.reconciliation import ReconciliationActivities
from activities.replenishment import ReplenishmentActivities
from activities.settlement import SettlementActivities
from activities.shipments import ShipmentActivities
from activities.transfers import TransferActivities
from activities.waves import WaveActivities
from core.db import SessionFactory
from core.settings import WorkerSettings
from workers.observability import ActivityOutcomeInterceptor
from workers.sandbox_code import SandboxValidatedOnce, compile_sandbox_code_once
from workflows.after_sale import AfterSaleWorkflow
from workflows.coupon_batch import CouponBatchWorkflow
from workflows.diagnostics import DiagnosticsWorkflow
from workflows.flash_close import FlashCloseWorkflow
from workflows.flash_sale import FlashSaleWorkflow
from workflows.group_buy import GroupBuyWorkflow
from workflows.late_payment import LatePaymentRefundWorkflow
from workflows.order import OrderWorkflow
from workflows.points_expiry import PointsExpiryWorkflow
from workflows.purchase_order import PurchaseOrderWorkflow
from workflows.reconciliation import ReconciliationWorkflow
from workflows.replenishment import ReplenishmentWorkflow
from workflows.settlement import SettlementWorkflow
from workflows.shipment import ShipmentWorkflow
from workflows.transfer import TransferWorkflow
from workflows.waves import WavePlannerWorkflow, WaveWorkflow

WORKFLOWS = [
    DiagnosticsWorkflow,
    OrderWorkflow,
    AfterSaleWorkflow,
    ShipmentWorkflow,
    PurchaseOrderWorkflow,
    SettlementWorkflow,
    ReplenishmentWorkflow,
    ReconciliationWorkflow,
    LatePaymentRefundWorkflow,
    WavePlannerWorkflow,
    WaveWorkflow,
    TransferWorkflow,
    PointsExpiryWorkflow,
    FlashSaleWorkflow,
    FlashCloseWorkflow,
    CouponBatchWorkflow,
    GroupBuyWorkflow,
]


@dataclass
class WorkerDeps:
    engine: AsyncEngine
    session_factory: SessionFactory
    payments: PaymentProvider | None = None
    carrier: CarrierClient | None = None
    payment_notify_url: str = "http://127.0.0.1:8000/v1/webhooks/payments/sandbox"
    tracking_webhook_url: str | None = None
    supplier: SupplierClient | None = None
    ship_within: timedelta = timedelta(hours=24)  # a package's ship-by after its release


def activities_for(deps: WorkerDeps) -> list[Callable[..., Any]]:
    sessions = deps.session_factory
    found: list[Callable[..., Any]] = [DiagnosticsActivities(deps.engine).check_database]
    orders = OrderActivities(sessions)
    inventory = InventoryActivities(sessions)
    found += [
        orders.quote_order,
        orders.record_order,
        orders.record_status,
        orders.record_package,
        orders.return_coupon,
    ]
    found += [
        inventory.reserve_stock,
        inventory.reserve_package,
        inventory.release_stock,
        inventory.ship_stock,
        inventory.withdraw_units,
    ]
    loyalty = LoyaltyActivities(sessions)
    found += [
        loyalty.earn_points,
        loyalty.return_points,
        loyalty.refund_points,
        loyalty.expire_points,
    ]
    purchasing = PurchasingActivities(sessions, deps.supplier)
    found += [purchasing.record_po_step, purchasing.move_po_in_transit, purchasing.receive_goods,
              purchasing.receive_and_record]  # fmt: skip
    if deps.supplier is not None:
        found.append(purchasing.send_to_supplier)
    after_sales = AfterSaleActivities(sessions)
    found += [after_sales.record_after_sale_step, after_sales.receive_return]
    waves = WaveActivities(sessions, ship_within=deps.ship_within)
    found += [
        waves.register_outbound,
        waves.plan_waves,
        waves.build_wave,
        waves.settle_wave,
        waves.cancel_picks,
        waves.escalate_wave,
        waves.finish_wave,
    ]
    transfers = TransferActivities(sessions)
    found += [
        transfers.record_transfer_step,
        transfers.release_transfer_stock,
        transfers.ship_transfer,
        transfers.receive_transfer,
    ]
    flash = FlashSaleActivities(sessions)
    found += [flash.open_flash_sale, flash.close_flash_sale, flash.flash_sale_window]
    customers = CustomerActivities(sessions)
    found += [customers.issue_coupon_chunk, customers.finish_coupon_batch]
    found.append(GroupBuyActivities(sessions).record_group_buy)
    presale = PresaleActivities(sessions)
    found += [presale.join_presale, presale.record_presale_step]
    replenishment = ReplenishmentActivities(sessions)
    found += [replenishment.scan_reorder_points, replenishment.draft_po]
    if deps.payments is not None:
        payments = PaymentActivities(sessions, deps.payments, deps.payment_notify_url)
        found += [
            payments.open_payment,
            payments.confirm_payment,
            payments.record_payment,
            payments.refund_payment,
        ]
        settlement = SettlementActivities(sessions, deps.payments)
        found += [settlement.record_invoice, settlement.pay_supplier]
        reconciliation = ReconciliationActivities(sessions, deps.payments)
        found += [
            reconciliation.start_reconciliation,
            reconciliation.fetch_statement,
            reconciliation.read_ledger,
            reconciliation.record_reconciliation,
        ]
    if deps.carrier is not None:
        shipments = ShipmentActivities(sessions, deps.carrier, deps.tracking_webhook_url)
        found += [
            shipments.record_shipment_step,
            shipments.allocate_tracking_number,
            shipments.create_waybill,
            shipments.cancel_waybill,
            shipments.poll_tracking,
            shipments.follow_return,
        ]
    return found


def build_worker(
    client: Client, deps: WorkerDeps, *, task_queue: str, tuning: WorkerSettings | None = None
) -> Worker:
    tuning = tuning or WorkerSettings()
    compile_sandbox_code_once()  # a replayed order compiled the same snippets hundreds of times
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        workflow_runner=SandboxValidatedOnce(),
        activities=activities_for(deps),
        # Memory is bounded by the cache, not by the workflows open (core/settings.py).
        max_cached_workflows=tuning.max_cached_workflows,
        max_concurrent_workflow_tasks=tuning.max_concurrent_workflow_tasks,
        max_concurrent_activities=tuning.max_concurrent_activities,
        # Outcomes first (outermost): it counts what the workflow gets, data errors included.
        interceptors=[ActivityOutcomeInterceptor(), DataErrorInterceptor()],
    )
