"""Temporal client with the pydantic data converter, used by every client and worker."""

from __future__ import annotations

from collections.abc import Sequence

from temporalio.client import Client, Interceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import Runtime

from core.request_ids import RequestIdInterceptor


async def connect(
    address: str,
    namespace: str = "default",
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """runtime: a worker's, exporting the SDK's metrics (workers/observability.py);
    interceptors: tracing's (core/tracing.py). The request id's (core/request_ids.py) is always
    there, first. A worker made from the client uses them too."""
    return await Client.connect(
        address,
        namespace=namespace,
        data_converter=pydantic_data_converter,
        runtime=runtime,
        interceptors=[RequestIdInterceptor(), *interceptors],
    )
