"""Data errors are business failures, not outages: a worker interceptor that turns a value the
database cannot take into a non-retryable `InvalidDataError`.

A statement refused for its values (SQLSTATE class 22: out of range, a NUL byte in text) or
values the driver cannot encode (an integer beyond int64, a lone surrogate) fails the same way
on every attempt; left to the retry policy, the activity (and whatever waits on it: an HTTP
request, reserved stock) would be retried for ever. Everything else still retries."""

from __future__ import annotations

from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from core.db import is_data_error

INVALID_DATA = "InvalidDataError"


def as_business_error(exc: BaseException) -> ApplicationError | None:
    """The non-retryable error a data error becomes; None for anything else."""
    if isinstance(exc, ApplicationError) or not is_data_error(exc):
        return None
    # The driver's message names the value's type and range, never the row's other values.
    message = str(exc).splitlines()[0][:300]
    return ApplicationError(
        f"the database refused a value: {message}",
        {"activity": activity.info().activity_type if activity.in_activity() else None},
        type=INVALID_DATA,
        non_retryable=True,
    )


class _ClassifyDataErrors(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await self.next.execute_activity(input)
        except Exception as exc:
            refused = as_business_error(exc)
            if refused is None:
                raise
            activity.logger.warning("data error, not retried: %s", refused.message)
            # Not chained: the driver's error carries the statement's parameters (addresses,
            # phones), which belong neither in logs nor in the workflow's history.
            raise refused from None


class DataErrorInterceptor(Interceptor):
    """Registered on every worker (`workers.worker.build_worker`)."""

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _ClassifyDataErrors(next)
