"""Temporal's servers for tests, from the pinned packages (never downloaded), with a startup
wait long enough for a busy CI machine (the SDK's default is a few seconds)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from workers.embedded import temporal_dev_server_path, temporal_test_server_path

STARTUP = timedelta(seconds=60)


async def time_skipping_server() -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_test_server_path(),
        data_converter=pydantic_data_converter,
        test_server_startup_timeout=STARTUP,
    )


async def dev_server(**options: Any) -> WorkflowEnvironment:
    return await WorkflowEnvironment.start_local(
        dev_server_existing_path=temporal_dev_server_path(),
        data_converter=pydantic_data_converter,
        dev_server_startup_timeout=STARTUP,
        **options,
    )
