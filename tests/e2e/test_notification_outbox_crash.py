"""The notification outbox across a worker killed mid-send: `houtai worker` (its outbox sender)
hands a message to the 企业微信 robot, which keeps it but stalls its answer; the worker is killed
with SIGKILL before it records the send. A new worker sends it again with the same message id:
the robot keeps one, the delivery is recorded sent after the second attempt, and nothing is sent
a third time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from models.db import NotificationDelivery, NotificationSubscription
from sandbox.common import serve
from sandbox.robots import RobotsConfig, create_robots_app
from services import notifications
from tests.support.orders import eventually
from tests.support.stack import Stack, running_stack
from tests.support.worker_process import WorkerProcess

pytestmark = pytest.mark.e2e


@pytest_asyncio.fixture
async def stack(
    seeded_engine: AsyncEngine, dev_client: Client, task_queue: str
) -> AsyncIterator[Stack]:
    async with running_stack(seeded_engine, dev_client, task_queue, in_process_worker=False) as s:
        yield s


async def test_a_message_sent_by_a_killed_worker_is_sent_again_and_kept_once(
    stack: Stack, tmp_path: Path
) -> None:
    app = create_robots_app(RobotsConfig(webhook_secret="crash-test", smtp_port=0))
    async with serve(app) as robots, httpx.AsyncClient(base_url=robots, timeout=10) as sandbox:
        stalling = {"timeout_rate": 1.0, "stall_ms": 60_000}  # kept, but never answered in time
        assert (await sandbox.put("/_sandbox/faults", json=stalling)).status_code == 200
        async with stack.sessions() as session:
            session.add(
                NotificationSubscription(
                    role="finance", channel="wecom",
                    target=f"{robots}/cgi-bin/webhook/send?key=finance",
                )
            )  # fmt: skip
            await session.flush()
            notice = notifications.Notice(kind="late_payment", ref="TX-CRASH", amount_fen=880)
            assert await notifications.raise_notice(session, notice) is not None
            await session.commit()

        env = {
            **stack.worker_env(),
            "HOUTAI_NOTIFICATIONS__SEND_TIMEOUT_S": "120",
            "HOUTAI_NOTIFICATIONS__POLL_INTERVAL_S": "0.2",
            "HOUTAI_NOTIFICATIONS__BACKOFF_S": "0",
        }
        first = WorkerProcess(env, tmp_path / "worker-1.log")
        first.start()
        try:

            async def kept() -> int | None:
                found = (await sandbox.get("/_sandbox/messages")).json()["messages"]
                return len(found) or None

            assert await eventually(kept, "the robot kept the message", seconds=60) == 1
        finally:
            first.crash()  # SIGKILL while the robot has not answered
        async with stack.sessions() as session:
            [row] = list(await session.scalars(select(NotificationDelivery)))
        assert (row.status, row.attempts) == ("pending", 0)  # nothing recorded: it died first

        assert (await sandbox.put("/_sandbox/faults", json={})).status_code == 200
        second = WorkerProcess(env, tmp_path / "worker-2.log")
        second.start()
        try:

            async def sent() -> NotificationDelivery | None:
                async with stack.sessions() as session:
                    row = await session.scalar(select(NotificationDelivery))
                return row if row is not None and row.status == "sent" else None

            done = await eventually(sent, "the delivery recorded sent", seconds=60)
            await asyncio.sleep(1)  # a few more rounds of the sender: nothing more goes out
        finally:
            second.stop()
        assert done.attempts == 1 and done.sent_at is not None
        received = (await sandbox.get("/_sandbox/messages")).json()
        assert len(received["messages"]) == 1 and received["duplicates"] == 1
        assert "TX-CRASH" in received["messages"][0]["content"]
        assert received["messages"][0]["message_id"] == done.message_id
