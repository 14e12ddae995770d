"""A worker's metrics and log context (README "Observability").

The Temporal SDK exports its own metrics (temporal_workflow_task_..., temporal_activity_...,
temporal_request...) through the process's Runtime: `runtime_for` gives one whose Prometheus
exporter listens on the configured port. Activity outcomes per activity type are counted by an
interceptor through the same SDK meter, so they come out of that very port: one endpoint per
worker, nothing else to run.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from temporalio import activity
from temporalio.common import MetricCounter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from core import logging as houtai_logging
from core.settings import Settings

OUTCOMES = "houtai_activity_outcomes"
log = logging.getLogger(__name__)


def runtime_for(settings: Settings) -> Runtime | None:
    """A Runtime exporting Prometheus metrics on the worker's metrics port; None when off."""
    if not settings.metrics.enabled or settings.metrics.worker_port == 0:
        return None
    address = f"{settings.metrics.worker_host}:{settings.metrics.worker_port}"
    try:
        return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=address)))
    except Exception as exc:  # a taken port costs the metrics, never the worker
        log.warning("worker metrics off: cannot listen on %s: %s", address, exc)
        return None


class _CountOutcomes(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, counters: dict[str, MetricCounter]):
        super().__init__(next)
        self.counters = counters

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        outcome = "failed"
        try:
            result = await self.next.execute_activity(input)
            outcome = "completed"
            return result
        except asyncio.CancelledError:
            outcome = "cancelled"
            raise
        finally:
            self._counter().add(1, {"outcome": outcome})

    def _counter(self) -> MetricCounter:
        # The activity's meter already carries namespace, task_queue and activity_type; one
        # counter per type, made on its first run.
        kind = activity.info().activity_type
        counter = self.counters.get(kind)
        if counter is None:
            counter = activity.metric_meter().create_counter(
                OUTCOMES, "Activity attempts by type and outcome (completed, failed, cancelled)"
            )
            self.counters[kind] = counter
        return counter


class ActivityOutcomeInterceptor(Interceptor):
    """Counts each activity attempt's outcome per activity type (a no-op meter without a
    metrics Runtime, as in tests)."""

    def __init__(self) -> None:
        self.counters: dict[str, MetricCounter] = {}

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _CountOutcomes(next, self.counters)


def activity_log_context() -> dict[str, str]:
    """workflow_id, activity_type and business_no of the activity running, for every log line
    written inside it (core.logging.ContextFilter)."""
    if not activity.in_activity():
        return {}
    info = activity.info()
    found = {"activity_type": info.activity_type, "workflow_id": info.workflow_id or ""}
    number = houtai_logging.business_no(info.workflow_id or "")
    if number is not None:
        found["business_no"] = number
    return found


def install_log_context() -> None:
    if activity_log_context not in houtai_logging.context_providers:
        houtai_logging.context_providers.append(activity_log_context)
