"""Temporal's servers for tests, from the pinned packages (never downloaded), with a startup
wait long enough for a busy CI machine (the SDK's default is a few seconds), and houtai's search
attributes registered (the workflows set them; the time-skipping server would hang on one it
does not know)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from core.request_ids import RequestIdInterceptor
from workers.embedded import temporal_dev_server_path, temporal_test_server_path
from workflows.visibility import SEARCH_ATTRIBUTES

STARTUP = timedelta(seconds=60)


async def time_skipping_server() -> WorkflowEnvironment:
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server_path(),
        data_converter=pydantic_data_converter,
        interceptors=[RequestIdInterceptor()],  # as every client of houtai's (core/temporal.py)
        test_server_startup_timeout=STARTUP,
    )
    try:
        await env.client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=env.client.namespace,
                search_attributes={
                    key.name: IndexedValueType.ValueType(key.indexed_value_type)
                    for key in SEARCH_ATTRIBUTES
                },
            )
        )
    except BaseException:
        await env.shutdown()
        raise
    return env


async def dev_server(**options: Any) -> WorkflowEnvironment:
    options.setdefault("search_attributes", SEARCH_ATTRIBUTES)
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_dev_server_path(),
        data_converter=pydantic_data_converter,
        interceptors=[RequestIdInterceptor()],
        dev_server_startup_timeout=STARTUP,
        **options,
    )
