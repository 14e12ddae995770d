"""Data errors in activities (issue 12, item 1): a value PostgreSQL refuses or asyncpg cannot
encode is classified as the non-retryable business error `InvalidDataError` — on a real database,
and through a real worker, where the workflow sees it at once instead of a retry for ever.
Other database errors (a constraint, a bug in SQL) are left to retry."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import workflow
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from activities.data_errors import DataErrorInterceptor, as_business_error
from activities.orders import OrderActivities
from core.db import SessionFactory, is_data_error
from models.contracts.order import Actor, StatusChange
from workflows.common import FAILED, call, refusal


async def refused_by_database(engine: AsyncEngine, sql: str, **params: object) -> BaseException:
    with pytest.raises(Exception) as raised:
        async with engine.connect() as conn:
            await conn.execute(text(sql), params)
    return raised.value


@pytest.mark.parametrize(
    ("sql", "params"),
    [
        ("SELECT CAST(:v AS integer) + 2147483647", {"v": 1}),  # integer out of range (22003)
        ("SELECT CAST(:v AS bigint)", {"v": 2**63}),  # asyncpg: value out of int64 range
        ("SELECT CAST(:v AS text)", {"v": "a\x00b"}),  # NUL in text (22021)
        ("SELECT CAST(:v AS text)", {"v": "a\ud800b"}),  # lone surrogate: not encodable
        ("SELECT CAST(:v AS integer)", {"v": 99999999999}),  # asyncpg: out of int32 range
    ],
    ids=["int-overflow", "int64-param", "nul", "surrogate", "int32-param"],
)
async def test_values_the_database_refuses_are_non_retryable_invalid_data(
    engine: AsyncEngine, sql: str, params: dict[str, object]
) -> None:
    exc = await refused_by_database(engine, sql, **params)

    assert is_data_error(exc), repr(exc)
    business = as_business_error(exc)
    assert business is not None
    assert business.type == "InvalidDataError"
    assert business.non_retryable


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM no_such_table",  # a bug: retried (and fixed), never a business outcome
        "INSERT INTO warehouses (id) VALUES (NULL)",  # a constraint: not a data error
    ],
)
async def test_other_database_errors_are_left_to_retry(engine: AsyncEngine, sql: str) -> None:
    exc = await refused_by_database(engine, sql)

    assert not is_data_error(exc)
    assert as_business_error(exc) is None


@workflow.defn(sandboxed=False)
class RecordStatusProbe:
    """Calls one real activity with houtai's retry policy; answers the refusal's type."""

    @workflow.run
    async def run(self, change: StatusChange) -> list[str]:
        try:
            await call(OrderActivities.record_status, change)
        except FAILED as exc:
            cause = refusal(exc)
            assert cause is not None
            return [cause.type or "", str(cause.non_retryable)]
        return ["recorded"]


async def test_a_worker_answers_a_data_error_at_once_as_invalid_data(
    dev_client: Client, session_factory: SessionFactory
) -> None:
    queue = f"data-errors-{uuid.uuid4()}"
    change = StatusChange(
        order_no="SO\x00",  # PostgreSQL cannot take this text: every attempt would fail alike
        status="paid",
        step="paid",
        key="k",
        at=datetime.now(UTC),
        actor=Actor(kind="system", name="test"),
    )
    async with Worker(
        dev_client,
        task_queue=queue,
        workflows=[RecordStatusProbe],
        activities=[OrderActivities(session_factory).record_status],
        interceptors=[DataErrorInterceptor()],
        workflow_runner=UnsandboxedWorkflowRunner(),
    ):
        answer = await asyncio.wait_for(
            dev_client.execute_workflow(
                RecordStatusProbe.run, change, id=f"probe-{uuid.uuid4()}", task_queue=queue
            ),
            timeout=30,  # without the interceptor: retried for ever (1 s, 2 s, ... 30 s)
        )

    assert answer == ["InvalidDataError", "True"]


def test_an_application_error_is_never_reclassified() -> None:
    already = ApplicationError("out of stock", type="OutOfStockError", non_retryable=True)
    assert as_business_error(already) is None
