"""The request id travels with what a request sends to Temporal (core/request_ids.py): into the
workflow's run and handlers, on to its activities (regular and local) and child workflows, and
onto the log lines written there; a replay of the history gives the same."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.api.common.v1 import Payload
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer, Worker

with workflow.unsafe.imports_passed_through():
    from core.logging import ContextFilter, request_id
    from core.request_ids import HEADER, RequestIdInterceptor, id_in

NOTE = "tests.request_ids"
SOON = timedelta(seconds=30)


@activity.defn
async def whose(label: str) -> str | None:
    """Logs `label` and answers the request id the activity runs with."""
    logging.getLogger(NOTE).info(label)
    return request_id.get()


@workflow.defn(sandboxed=True)
class ChildOfTraced:
    @workflow.run
    async def run(self) -> str | None:
        workflow.logger.info("child runs")
        return await workflow.execute_activity(whose, "child", start_to_close_timeout=SOON)


@workflow.defn(sandboxed=True)
class Traced:
    def __init__(self) -> None:
        self.seen: dict[str, str | None] = {}
        self.finished = False

    @workflow.run
    async def run(self) -> dict[str, str | None]:
        workflow.logger.info("run starts")
        self.seen["run"] = await workflow.execute_activity(
            whose, "run", start_to_close_timeout=SOON
        )
        self.seen["local"] = await workflow.execute_local_activity(
            whose, "local", start_to_close_timeout=SOON
        )
        self.seen["child"] = await workflow.execute_child_workflow(
            ChildOfTraced.run, id=f"{workflow.info().workflow_id}-child"
        )
        await workflow.wait_condition(lambda: self.finished)
        self.seen["after"] = await workflow.execute_activity(
            whose, "after", start_to_close_timeout=SOON
        )
        return self.seen

    @workflow.update
    async def ask(self) -> str | None:
        await workflow.wait_condition(lambda: "child" in self.seen)  # after the run's
        workflow.logger.info("update handled")
        self.seen["update"] = await workflow.execute_activity(
            whose, "update", start_to_close_timeout=SOON
        )
        return self.seen["update"]

    @workflow.signal
    async def finish(self) -> None:
        workflow.logger.info("signal handled")
        self.seen["signal"] = await workflow.execute_activity(
            whose, "signal", start_to_close_timeout=SOON
        )
        self.finished = True

    @workflow.query
    def asked(self) -> bool:
        workflow.logger.info("query handled")
        return "update" in self.seen


class _Lines(logging.Handler):
    """The log records written, after houtai's ContextFilter (as core.logging configures it)."""

    def __init__(self) -> None:
        super().__init__()
        self.addFilter(ContextFilter())
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def request_ids(self) -> dict[str, str | None]:
        """By message (a workflow's without the details the SDK appends to it)."""
        return {
            r.getMessage().split(" ({")[0]: getattr(r, "request_id", None) for r in self.records
        }


@contextmanager
def lines() -> Iterator[_Lines]:
    handler = _Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@contextmanager
def serving(rid: str | None) -> Iterator[None]:
    """As the API does while it serves a request (api/observability.py)."""
    token = request_id.set(rid)
    try:
        yield
    finally:
        request_id.reset(token)


def _worker(client: Client, task_queue: str) -> Worker:
    # The interceptor comes from the client, as on a worker built by build_worker.
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[Traced, ChildOfTraced],
        activities=[whose],
    )


async def _drive(client: Client, task_queue: str, ids: dict[str, str | None]) -> tuple[
    dict[str, str | None], str
]:  # fmt: skip
    workflow_id = f"traced-{uuid.uuid4().hex[:8]}"
    with serving(ids["start"]):
        handle = await client.start_workflow(
            Traced.run, id=workflow_id, task_queue=task_queue, execution_timeout=SOON * 4
        )
    with serving(ids["update"]):
        assert await handle.execute_update(Traced.ask) == ids["update"]
    with serving(ids["query"]):
        assert await handle.query(Traced.asked)
    with serving(ids["signal"]):
        await handle.signal(Traced.finish)
    return await handle.result(), workflow_id


async def test_the_request_id_reaches_every_activity_child_and_log_line(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = time_skipping_env.client
    ids = {"start": "rid-start", "update": "rid-update", "query": "rid-query",
           "signal": "rid-signal"}  # fmt: skip
    with lines() as written:
        async with _worker(client, task_queue):
            seen, workflow_id = await _drive(client, task_queue, ids)
    # The run and what it sends carry the starting request's id; each handler its message's.
    assert seen == {
        "run": "rid-start",
        "local": "rid-start",
        "child": "rid-start",
        "update": "rid-update",
        "signal": "rid-signal",
        "after": "rid-start",  # the run going on after the signal: no request sent that
    }
    logged = written.request_ids()
    assert {k: logged.get(k) for k in ("run starts", "child runs", "update handled",
                                       "query handled", "signal handled")} == {
        "run starts": "rid-start",
        "child runs": "rid-start",
        "update handled": "rid-update",
        "query handled": "rid-query",
        "signal handled": "rid-signal",
    }  # fmt: skip
    for label in ("run", "local", "child", "update", "signal", "after"):
        assert logged[label] == seen[label], label
    assert request_id.get() is None  # nothing leaked into the caller's context

    # The history holds the ids (the start's header); a replay, with or without the
    # interceptor, finds the same commands.
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    assert id_in(started.header.fields) == "rid-start"
    scheduled = [
        e.activity_task_scheduled_event_attributes
        for e in history.events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    # run, update, signal, after (the local activity is a marker; the child's is in its own)
    assert [id_in(s.header.fields) for s in scheduled] == [
        "rid-start", "rid-update", "rid-signal", "rid-start",
    ]  # fmt: skip
    for interceptors in ([RequestIdInterceptor()], []):
        replayed = await Replayer(
            workflows=[Traced, ChildOfTraced], interceptors=interceptors
        ).replay_workflow(history, raise_on_replay_failure=False)
        assert replayed.replay_failure is None, replayed.replay_failure


async def test_nothing_is_carried_without_a_request(
    time_skipping_env: WorkflowEnvironment, task_queue: str
) -> None:
    client = time_skipping_env.client
    with lines() as written:
        async with _worker(client, task_queue):
            seen, workflow_id = await _drive(
                client, task_queue, dict.fromkeys(("start", "update", "query", "signal"))
            )
    assert set(seen.values()) == {None}
    assert set(written.request_ids().values()) == {None}
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    assert all(HEADER not in e.workflow_execution_started_event_attributes.header.fields
               for e in history.events[:1])  # fmt: skip


def test_an_unreadable_header_is_no_id() -> None:
    assert id_in({HEADER: Payload(data=b"not json")}) is None
    assert id_in({HEADER: Payload(data=b"42")}) is None
    assert id_in({HEADER: Payload(data=b'"x-1"')}) == "x-1"
    assert id_in({}) is None
