"""`houtai up --workers 2`: two worker processes poll the task queue, the API runs as several
uvicorn processes and its /metrics adds up the requests every one of them answered."""

from __future__ import annotations

import asyncio
import re
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client

from tests.e2e.test_up import assert_an_order_is_placed_and_paid
from tests.support.up import Up

pytestmark = pytest.mark.e2e


async def pollers(address: str, kind: TaskQueueType.ValueType) -> set[str]:
    """The identities (pid@host) polling houtai's task queue for this kind of task."""
    client = await Client.connect(address)
    answer = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace="default", task_queue=TaskQueue(name="houtai"), task_queue_type=kind
        )
    )
    return {poller.identity for poller in answer.pollers}


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def requests_counted(metrics: str, route: str) -> float:
    pattern = rf'^houtai_http_requests_total\{{[^}}]*route="{re.escape(route)}"[^}}]*\}} (\S+)$'
    return sum(float(m[1]) for m in re.finditer(pattern, metrics, re.MULTILINE))


def stable_counts(base: str) -> list[float]:
    """/readyz's request count, scraped six times on fresh connections (any process answers)."""
    return [requests_counted(httpx.get(f"{base}/metrics").text, "/readyz") for _ in range(6)]


def test_up_with_two_workers_runs_two_pollers_and_a_multiprocess_api(up: Up) -> None:
    # Each API process imports the whole app anew (uvicorn spawns them): on a busy machine that
    # takes longer than one process does, so the readiness wait is longer than test_up's.
    up.env["HOUTAI_EMBEDDED__STARTUP_TIMEOUT_S"] = "200"
    up.start("--workers", "2", timeout=330)
    workers = {
        int(up.wait_for(r"\bworker: started, pid (\d+)")[1]),
        int(up.wait_for(r"\bworker-2: started, pid (\d+)")[1]),
    }
    api = int(up.wait_for(r"\bapi: started, pid (\d+)")[1])
    assert "starting 2 worker process(es) and the API (2 process(es))" in up.text

    address = f"127.0.0.1:{up.ports['HOUTAI_EMBEDDED__TEMPORAL_PORT']}"
    deadline = time.monotonic() + 60
    seen: dict[str, set[str]] = {}
    while time.monotonic() < deadline:
        seen = {
            "workflow": asyncio.run(pollers(address, TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW)),
            "activity": asyncio.run(pollers(address, TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY)),
        }
        if all(len(identities) == 2 for identities in seen.values()):
            break
        time.sleep(1)
    for kind, identities in seen.items():
        assert {int(identity.split("@")[0]) for identity in identities} == workers, (kind, seen)

    # The API: a uvicorn parent with two serving processes.
    serving = [
        c for c in children(api) if "multiprocessing" in Path(f"/proc/{c}/cmdline").read_text()
    ]
    assert len(serving) >= 2, serving

    # 60 requests on fresh connections, 12 at a time, so both processes answer some.
    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(lambda _: httpx.get(f"{up.base}/readyz").status_code, range(60)))
    assert codes == [200] * 60
    counted = stable_counts(up.base)
    assert len(counted) == 6 and all(c >= 60 for c in counted), counted
    # Each process that counted keeps its own file, added up at every scrape.
    files = {int(p.stem.split("_")[-1]) for p in (up.data_dir / "api-metrics").glob("counter_*.db")}
    assert files and files <= set(serving), (files, serving)
    with httpx.Client(base_url=up.base, timeout=30) as http:
        assert_an_order_is_placed_and_paid(http, up.ports["HOUTAI_EMBEDDED__SANDBOX_PAYMENTS_PORT"])
    assert up.stop() == 0
    assert "stopping worker-2" in up.text
