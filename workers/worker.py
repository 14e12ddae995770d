"""build_worker: the one wiring of workflows and activities, used by the CLI and by tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.worker import Worker

from activities.diagnostics import DiagnosticsActivities
from core.db import SessionFactory
from workflows.diagnostics import DiagnosticsWorkflow

WORKFLOWS = [DiagnosticsWorkflow]


@dataclass
class WorkerDeps:
    engine: AsyncEngine
    session_factory: SessionFactory


def activities_for(deps: WorkerDeps) -> list[Callable[..., Any]]:
    diagnostics = DiagnosticsActivities(deps.engine)
    return [diagnostics.check_database]


def build_worker(client: Client, deps: WorkerDeps, *, task_queue: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=activities_for(deps),
    )
