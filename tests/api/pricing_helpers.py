"""Request bodies and a pricing helper shared by the promotion and coupon route tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.db import SessionFactory
from models.contracts.pricing import (
    CartLine,
    CouponOffer,
    FreightPolicy,
    FreightSetup,
    PricedOrder,
    PricingRequest,
    Promotions,
)
from models.domain.pricing import price_order
from services.pricing_inputs import sku_facts
from tests.api.conftest import Ref

AT = datetime(2030, 6, 1, 12, 0, tzinfo=UTC)
ALL = {"all_items": True}


def spend_tier(**extra: Any) -> dict[str, Any]:
    return {
        "kind": "spend_tier",
        "name": "满150减20",
        "rule": {
            "scope": ALL,
            "tiers": [
                {"threshold_fen": 15000, "off_fen": 2000},
                {"threshold_fen": 30000, "off_fen": 5000},
            ],
        },
        **extra,
    }


def coupon_body(code: str = "SUMMER10", **rule: Any) -> dict[str, Any]:
    terms = {"kind": "percent", "percent_off": 10, "max_off_fen": 1500, "min_spend_fen": 10000}
    return {"code": code, "rule": {**terms, **rule}}


async def priced(
    session_factory: SessionFactory,
    ref: Ref,
    quantity: int,
    *,
    promotions: Promotions | None = None,
    coupon: CouponOffer | None = None,
) -> PricedOrder:
    """Price `quantity` × the reference SKU (99.00 元) with fixed 8.00 元 freight."""
    async with session_factory() as session:
        catalog = await sku_facts(session, {ref.sku_id})
    return price_order(
        PricingRequest(
            at=AT,
            customer_id=7,
            destination_region="310115",
            lines=[CartLine(sku_id=ref.sku_id, quantity=quantity)],
            catalog=catalog,
            promotions=promotions or Promotions(),
            coupon=coupon,
            freight=FreightSetup(policy=FreightPolicy(mode="fixed", fixed_fee_fen=800)),
        )
    )
