"""Log context and activity outcomes (README "Observability"), without servers."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
from contextlib import nullcontext
from typing import Any

import pytest
from temporalio.runtime import MetricBuffer, Runtime, TelemetryConfig
from temporalio.testing import ActivityEnvironment
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput

from core import logging as houtai_logging
from workers.observability import OUTCOMES, ActivityOutcomeInterceptor, install_log_context


def capture() -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(houtai_logging.JsonFormatter())
    handler.addFilter(houtai_logging.ContextFilter())
    logger = logging.getLogger(f"houtai.test.{id(out)}")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, out


def lines(out: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_api_lines_carry_the_request_id() -> None:
    logger, out = capture()
    token = houtai_logging.request_id.set("req-42")
    try:
        logger.info("inside")
    finally:
        houtai_logging.request_id.reset(token)
    logger.info("outside")
    inside, outside = lines(out)
    assert inside["request_id"] == "req-42" and inside["message"] == "inside"
    assert "request_id" not in outside


async def test_activity_lines_carry_workflow_activity_and_business_number() -> None:
    install_log_context()
    logger, out = capture()
    env = ActivityEnvironment()
    env.info = dataclasses.replace(
        env.info, workflow_id="order-HT20261206000123", activity_type="record_order"
    )

    async def record_order() -> None:
        logger.info("booked")

    await env.run(record_order)
    logger.info("after")
    booked, after = lines(out)
    assert booked["workflow_id"] == "order-HT20261206000123"
    assert booked["activity_type"] == "record_order"
    assert booked["business_no"] == "HT20261206000123"
    assert "activity_type" not in after


def test_workflow_lines_carry_workflow_id_and_business_number() -> None:
    """A workflow's own line (the SDK's workflow.logger, its failed-task warning) carries its
    details as `temporal_workflow`; the line gets workflow_id and business_no at the top."""
    logger, out = capture()
    details = {
        "workflow_id": "aftersale-AS20261207000009",
        "workflow_type": "AfterSaleWorkflow",
        "run_id": "r",
        "namespace": "default",
        "task_queue": "houtai",
        "attempt": 1,
    }
    logger.warning("Failed activation on workflow", extra={"temporal_workflow": details})
    logger.info("no workflow", extra={"temporal_workflow": "not details"})
    failed, plain = lines(out)
    assert failed["workflow_id"] == "aftersale-AS20261207000009"
    assert failed["business_no"] == "AS20261207000009"
    assert "workflow_id" not in plain and "business_no" not in plain


@pytest.mark.parametrize(
    ("workflow_id", "number"),
    [
        ("po-PO2026000001", "PO2026000001"),
        ("shipment-PK1-1", "PK1-1"),
        ("diagnostics-x", None),
        ("group-GB2026120600012", "GB2026120600012"),
        ("late-payment-pay_3f9a2c", "pay_3f9a2c"),
        ("coupon-batch-17", "17"),
        ("flash-FS00000042", "FS00000042"),  # opened at once: started with the schedule's id
        ("flash-FS00000042-2026-12-06T02:00:00Z", "FS00000042"),  # run by its opening schedule
        ("flash-close-FS00000042-2026-12-06T03:00:00Z", "FS00000042"),  # its closing schedule's
        ("flash-daily-x", None),  # not a sale's number with a schedule's time
    ],
)
def test_business_number_from_workflow_id(workflow_id: str, number: str | None) -> None:
    assert houtai_logging.business_no(workflow_id) == number


class _Next(ActivityInboundInterceptor):
    def __init__(self, answer: BaseException | None) -> None:
        self.answer = answer

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        if self.answer is not None:
            raise self.answer
        return "done"


async def test_activity_outcomes_are_counted_per_outcome() -> None:
    buffer = MetricBuffer(1000)
    runtime = Runtime(telemetry=TelemetryConfig(metrics=buffer))
    interceptor = ActivityOutcomeInterceptor()
    env = ActivityEnvironment()
    env.metric_meter = runtime.metric_meter
    dummy: Any = None
    for answer in (None, None, RuntimeError("carrier down"), asyncio.CancelledError()):
        inbound = interceptor.intercept_activity(_Next(answer))

        async def run(inbound: ActivityInboundInterceptor = inbound) -> Any:
            return await inbound.execute_activity(dummy)

        with pytest.raises((RuntimeError, asyncio.CancelledError)) if answer else nullcontext():
            await env.run(run)
    counted: dict[str, int] = {}
    for update in buffer.retrieve_updates():
        if update.metric.name == OUTCOMES:
            outcome = str(update.attributes["outcome"])
            counted[outcome] = counted.get(outcome, 0) + int(update.value)
    assert counted == {"completed": 2, "failed": 1, "cancelled": 1}
