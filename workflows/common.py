"""What every workflow shares: how activities are called (timeouts, retries, which errors are
business outcomes rather than failures to retry)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import TypeVar

from temporalio import workflow
from temporalio.common import RetryPolicy

S = TypeVar("S")
P = TypeVar("P")
R = TypeVar("R")

# Business outcomes: raised non-retryable by activities, listed here so the policy says so too.
BUSINESS_ERRORS = [
    "InvalidOrderError",
    "OutOfStockError",
    "CouponNotApplicableError",
    "UnserviceableRegionError",
    "MissingFreightRuleError",
    "PaymentDeclinedError",
    "RefundRefusedError",
    "UnknownCarrierError",
    "TrackingRangeExhaustedError",
    "WaybillRefusedError",
    "StockShortError",
]
RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=BUSINESS_ERRORS,
)


async def call(
    activity: Callable[[S, P], Awaitable[R]],
    arg: P,
    *,
    start_to_close: timedelta = timedelta(seconds=30),
) -> R:
    """Run one activity method with houtai's timeout and retry policy."""
    return await workflow.execute_activity_method(
        activity, arg, start_to_close_timeout=start_to_close, retry_policy=RETRY
    )
