"""Payloads of the diagnostics round trip (API or CLI → Temporal → worker → database)."""

from __future__ import annotations

from pydantic import BaseModel


class DiagnosticsInput(BaseModel):
    requested_by: str


class DatabaseCheck(BaseModel):
    reachable: bool
    schema_revision: str | None
    expected_revision: str


class DiagnosticsResult(BaseModel):
    requested_by: str
    task_queue: str
    database: DatabaseCheck
