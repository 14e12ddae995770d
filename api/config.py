"""Settings → the order rules' configuration that the API passes to workflows in their input."""

from __future__ import annotations

from datetime import timedelta

from core.settings import Settings
from models.contracts.order import OrderPolicy, OrderTimings
from models.contracts.purchasing import PoPolicy, PoTimings, default_approval_policy
from models.contracts.waves import WaveRules
from models.domain.logins import LoginPolicy
from models.domain.purchasing import OverDeliveryTolerance


def order_timings(settings: Settings) -> OrderTimings:
    o = settings.orders
    return OrderTimings(
        payment_window=timedelta(minutes=o.payment_window_minutes),
        risk_review_sla=timedelta(minutes=o.risk_review_sla_minutes),
        auto_confirm_after=timedelta(days=o.auto_confirm_days),
        after_sale_window=timedelta(days=o.after_sale_window_days),
        after_sale_approval_sla=timedelta(hours=o.after_sale_approval_hours),
        after_sale_return_window=timedelta(days=o.after_sale_return_days),
        late_payment_grace=timedelta(hours=o.late_payment_grace_hours),
        tracking_poll_interval=timedelta(minutes=o.tracking_poll_minutes),
        backorder_for=timedelta(days=o.backorder_days),
        flash_payment_window=timedelta(minutes=o.flash_payment_window_minutes),
    )


def order_policy(settings: Settings) -> OrderPolicy:
    o = settings.orders
    return OrderPolicy(
        risk_review_over_fen=o.risk_review_over_fen,
        weight_tolerance_g=o.weight_tolerance_g,
        weight_tolerance_pct=o.weight_tolerance_pct,
        box_tare_g=o.box_tare_g,
        carrier_code=o.carrier_code,
        short_pick_policy=o.short_pick_policy,
    )


def wave_rules(settings: Settings) -> WaveRules:
    w = settings.waves
    return WaveRules(
        max_orders=w.max_orders,
        max_lines=w.max_lines,
        max_units=w.max_units,
        lead_time=timedelta(minutes=w.lead_time_minutes),
        urgency_margin=timedelta(minutes=w.urgency_margin_minutes),
        max_age=timedelta(minutes=w.max_age_minutes),
        sla_margin=timedelta(minutes=w.sla_margin_minutes),
        task_max_stops=w.task_max_stops,
        task_max_units=w.task_max_units,
    )


def po_timings(settings: Settings) -> PoTimings:
    p = settings.purchasing
    return PoTimings(
        approval_sla=timedelta(hours=p.approval_sla_hours),
        auto_close_after=timedelta(days=p.auto_close_days),
    )


def po_policy(settings: Settings) -> PoPolicy:
    p = settings.purchasing
    return PoPolicy(
        approval=default_approval_policy(p.two_level_approval_from_fen),
        over_delivery=OverDeliveryTolerance(percent=p.over_delivery_percent),
    )


def login_policy(settings: Settings) -> LoginPolicy:
    a = settings.auth
    return LoginPolicy(
        account_failures=a.lockout_account_failures,
        address_failures=a.lockout_address_failures,
        failure_window=timedelta(minutes=a.lockout_window_minutes),
        lockout=timedelta(minutes=a.lockout_minutes),
        totp_roles=frozenset(a.totp_required_roles),
        totp_issuer=a.totp_issuer,
    )
