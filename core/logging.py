"""Structured logging for the processes houtai runs.

Every line carries its context (README "Observability"): the request id (api/observability.py
sets it per request; core/request_ids.py carries it through Temporal into the workflows and
activities the request reaches), and in a worker the workflow id, the activity type and the
business number (order, package, PO, wave...) of the activity being run.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}

# The request being served (API), or the one whose message a workflow or an activity handles
# (core/request_ids.py); None outside one.
request_id: ContextVar[str | None] = ContextVar("houtai_request_id", default=None)

# Workflow id prefixes whose rest is a business number (see the id=f"..." of each start). Longer
# prefixes are tried first, should one ever begin like a shorter one.
_BUSINESS_PREFIXES = tuple(
    sorted(
        (
            "order-",
            "place-",
            "shipment-",
            "aftersale-",
            "po-",
            "settle-",
            "wave-",
            "transfer-",
            "group-",  # a group buy, group-GB… (api/routes/group_buys.py)
            "late-payment-",  # a payment after its order ended, by transaction id
            "coupon-batch-",  # a segment's coupon batch, by batch id
        ),
        key=len,
        reverse=True,
    )
)
# A flash sale's workflow is flash-FS… when it opens at once, but its opening schedule's run is
# flash-FS…-2026-12-06T02:00:00Z: Temporal appends the scheduled time to a schedule's workflow
# id (api/routes/flash_sales.py names the process by its whole id for that reason). Its closing
# schedule's run is flash-close-FS…-<time> (workflows/flash_close.py).
_FLASH_SALE = re.compile(r"flash-(?:close-)?(?P<no>[^-]+)(?:-\d{4}-\d{2}-\d{2}T[0-9:.]+Z)?")


def business_no(workflow_id: str) -> str | None:
    """The order / package / PO / wave / group / flash sale number (or the transaction or batch
    id) a workflow id names, if it names one."""
    for prefix in _BUSINESS_PREFIXES:
        if workflow_id.startswith(prefix):
            return workflow_id[len(prefix) :]
    flash = _FLASH_SALE.fullmatch(workflow_id)
    return flash.group("no") if flash else None


# More context for every line: a worker adds the running activity's (workers/observability.py),
# so core needs no Temporal import.
context_providers: list[Callable[[], dict[str, str]]] = []


class ContextFilter(logging.Filter):
    """Adds request_id (API) or workflow_id / activity_type / business_no (worker activities)
    to every record that does not carry them already; a workflow's own line (the SDK's
    `workflow.logger`, its warning of a failed workflow task) gets workflow_id and business_no
    from the `temporal_workflow` details the SDK puts on it."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = request_id.get()
        if rid is not None and not hasattr(record, "request_id"):
            record.request_id = rid
        for provide in context_providers:
            for key, value in provide().items():
                if not hasattr(record, key):
                    setattr(record, key, value)
        workflow = getattr(record, "temporal_workflow", None)
        workflow_id = workflow.get("workflow_id") if isinstance(workflow, dict) else None
        if isinstance(workflow_id, str) and not hasattr(record, "workflow_id"):
            record.workflow_id = workflow_id
            number = business_no(workflow_id)
            if number is not None and not hasattr(record, "business_no"):
                record.business_no = number
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str = "INFO", *, json_lines: bool = True) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_lines else logging.Formatter("%(levelname)s %(name)s %(message)s")
    )
    handler.addFilter(ContextFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
