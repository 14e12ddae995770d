"""A workflow call the route gave up waiting for (the update's RPC timed out on a loaded
server) answers 503 busy with Retry-After, like a worker that did not answer: the request, sent
again with the same keys, answers the same. Seen as a 500 under the group-buy bench."""

from __future__ import annotations

import pytest
from temporalio.client import WorkflowUpdateRPCTimeoutOrCancelledError

from api.errors import Problem
from api.workflow_calls import answer


async def _timed_out() -> None:
    raise WorkflowUpdateRPCTimeoutOrCancelledError()


async def test_an_update_rpc_timeout_is_a_503_to_retry() -> None:
    with pytest.raises(Problem) as raised:
        await answer(_timed_out(), kind="order", ident="SO1")
    problem = raised.value
    assert problem.status == 503
    assert problem.headers == {"Retry-After": "5"}
    assert "order SO1" in str(problem.detail)
