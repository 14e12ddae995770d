"""Temporal client with the pydantic data converter, used by every client and worker."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime


async def connect(
    address: str, namespace: str = "default", runtime: Runtime | None = None
) -> Client:
    """runtime: a worker's, exporting the SDK's metrics (workers/observability.py)."""
    return await Client.connect(
        address, namespace=namespace, data_converter=pydantic_data_converter, runtime=runtime
    )
