"""The OpenAPI document tells the truth to the demo admin (tests/support/schemathesis_run.py)."""

from __future__ import annotations

from tests.support.schemathesis_run import ADMIN, check_every_operation
from tests.support.stack import Stack


async def test_every_operation_answers_the_admin_as_its_schema_says(stack: Stack) -> None:
    await check_every_operation(stack, ADMIN)
