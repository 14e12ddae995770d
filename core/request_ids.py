"""The API's request id, carried into the workflows and activities a request reaches (README
"Observability"), so that every log line a request causes carries it, whichever process
writes it.

One interceptor, on every Temporal client (core/temporal.py `connect`), and on every worker
made from a client (the SDK hands a client's worker interceptors to its workers):

- client side: a workflow start, update, update-with-start, signal or query sent while a
  request id is current (`core.logging.request_id`, set per request by the API) carries it in
  the `houtai-request-id` header;
- workflow side: the run takes the id of the request that started it; each signal, update and
  query handler runs with the id of the request that sent it. The activities, child workflows
  and signals the workflow sends from there carry the id on. A workflow's later steps that no
  request sent (a timer firing, the run's own loop going on after a signal) keep the id of the
  request that started it. The ids come from the history (the headers of its events), so a
  replay sees the same ones, and nothing the workflow decides depends on them;
- activity side: the activity runs with the id its workflow gave it, so its log lines carry it
  (core.logging.ContextFilter) and so do the workflows it starts or signals in turn.

The id travels in the header as JSON (readable in the Temporal UI's event details). Workflows
started before this header existed, or by no request (a Schedule's runs, the worker's own
starts), carry none and their lines none.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from temporalio import client as temporal_client
from temporalio import worker as temporal_worker
from temporalio.api.common.v1 import Payload

from core.logging import request_id

HEADER = "houtai-request-id"


def _with_id(headers: Mapping[str, Payload]) -> Mapping[str, Payload]:
    """`headers` with the current request id added (as they are when there is none)."""
    current = request_id.get()
    if current is None:
        return headers
    encoded = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(current).encode())
    return {**headers, HEADER: encoded}


def id_in(headers: Mapping[str, Payload]) -> str | None:
    """The request id a message's headers carry, if any (one that cannot be read: none)."""
    payload = headers.get(HEADER)
    if payload is None:
        return None
    try:
        found = json.loads(payload.data)
    except ValueError:
        return None
    return found if isinstance(found, str) else None


def _adopt(headers: Mapping[str, Payload]) -> None:
    """The message's request id becomes the current one in the task that handles it (each
    handler, the run and each activity is an asyncio task of its own: the id stays in it)."""
    request_id.set(id_in(headers))


class _ClientOutbound(temporal_client.OutboundInterceptor):
    async def start_workflow(self, input: temporal_client.StartWorkflowInput) -> Any:
        input.headers = _with_id(input.headers)
        return await super().start_workflow(input)

    async def start_workflow_update(self, input: temporal_client.StartWorkflowUpdateInput) -> Any:
        input.headers = _with_id(input.headers)
        return await super().start_workflow_update(input)

    async def start_update_with_start_workflow(
        self, input: temporal_client.StartWorkflowUpdateWithStartInput
    ) -> Any:
        input.start_workflow_input.headers = _with_id(input.start_workflow_input.headers)
        input.update_workflow_input.headers = _with_id(input.update_workflow_input.headers)
        return await super().start_update_with_start_workflow(input)

    async def signal_workflow(self, input: temporal_client.SignalWorkflowInput) -> None:
        input.headers = _with_id(input.headers)
        await super().signal_workflow(input)

    async def query_workflow(self, input: temporal_client.QueryWorkflowInput) -> Any:
        input.headers = _with_id(input.headers)
        return await super().query_workflow(input)


class _WorkflowOutbound(temporal_worker.WorkflowOutboundInterceptor):
    def start_activity(self, input: temporal_worker.StartActivityInput) -> Any:
        input.headers = _with_id(input.headers)
        return super().start_activity(input)

    def start_local_activity(self, input: temporal_worker.StartLocalActivityInput) -> Any:
        input.headers = _with_id(input.headers)
        return super().start_local_activity(input)

    async def start_child_workflow(self, input: temporal_worker.StartChildWorkflowInput) -> Any:
        input.headers = _with_id(input.headers)
        return await super().start_child_workflow(input)

    async def signal_child_workflow(self, input: temporal_worker.SignalChildWorkflowInput) -> None:
        input.headers = _with_id(input.headers)
        await super().signal_child_workflow(input)

    async def signal_external_workflow(
        self, input: temporal_worker.SignalExternalWorkflowInput
    ) -> None:
        input.headers = _with_id(input.headers)
        await super().signal_external_workflow(input)


class _WorkflowInbound(temporal_worker.WorkflowInboundInterceptor):
    def init(self, outbound: temporal_worker.WorkflowOutboundInterceptor) -> None:
        super().init(_WorkflowOutbound(outbound))

    async def execute_workflow(self, input: temporal_worker.ExecuteWorkflowInput) -> Any:
        _adopt(input.headers)
        return await super().execute_workflow(input)

    async def handle_signal(self, input: temporal_worker.HandleSignalInput) -> None:
        _adopt(input.headers)
        await super().handle_signal(input)

    async def handle_query(self, input: temporal_worker.HandleQueryInput) -> Any:
        _adopt(input.headers)
        return await super().handle_query(input)

    async def handle_update_handler(self, input: temporal_worker.HandleUpdateInput) -> Any:
        _adopt(input.headers)
        return await super().handle_update_handler(input)


class _ActivityInbound(temporal_worker.ActivityInboundInterceptor):
    async def execute_activity(self, input: temporal_worker.ExecuteActivityInput) -> Any:
        _adopt(input.headers)
        return await super().execute_activity(input)


class RequestIdInterceptor(temporal_client.Interceptor, temporal_worker.Interceptor):
    """Carries the request id from the API through workflows into activities (see above)."""

    def intercept_client(
        self, next: temporal_client.OutboundInterceptor
    ) -> temporal_client.OutboundInterceptor:
        return _ClientOutbound(next)

    def intercept_activity(
        self, next: temporal_worker.ActivityInboundInterceptor
    ) -> temporal_worker.ActivityInboundInterceptor:
        return _ActivityInbound(next)

    def workflow_interceptor_class(
        self, input: temporal_worker.WorkflowInterceptorClassInput
    ) -> type[temporal_worker.WorkflowInboundInterceptor]:
        return _WorkflowInbound
