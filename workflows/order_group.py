"""A group-buy member's order (DESIGN §6.8): once paid it tells its group (`group-GB…`) and ships
only when the group completes; the group failing (or closed before it heard) cancels the order
with a full refund, and an order that ends before its group decided gives its seat back.

It reads and writes the order's state (`OrderState`: the group's word, the cancel) and asks the
order for timeline steps through `GroupSteps`; the order's status is the workflow's to change."""

from __future__ import annotations

from typing import Protocol

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from models.contracts import messages
    from models.contracts.group_buy import GroupDecided, MemberLeft, MemberPaid
    from models.contracts.order import Actor, CancelRequest
    from workflows.common import signal_unless_gone
    from workflows.order_state import Detail, OrderState

# Only orders placed with a group ever ask.
GROUP_PATCH = "group-buy-member"
GROUP_ACTOR = Actor(kind="system", name="group-buy")


class GroupSteps(Protocol):
    """What the group part asks of the order: a step on its timeline and projection, by the
    group."""

    async def record(
        self, step: str, *, actor: Actor = ..., detail: Detail | None = None
    ) -> None: ...


class GroupBuy:
    def __init__(self, state: OrderState, steps: GroupSteps) -> None:
        self._state = state
        self._steps = steps

    def _group(self) -> workflow.ExternalWorkflowHandle[object] | None:
        request = self._state.place_request
        if request is None or request.group is None:
            return None
        return workflow.get_external_workflow_handle(f"group-{request.group.group_no}")

    async def formed(self) -> bool:
        """Paid: a group member tells its group and waits for it to complete (True: it ships)
        or fail (False: the order is cancelled and refunded in full). Other orders: True at
        once."""
        state = self._state
        group = self._group()
        if group is None or not workflow.patched(GROUP_PATCH):
            return True
        assert state.payment is not None
        told = await signal_unless_gone(
            group, messages.GROUP_MEMBER_PAID, MemberPaid(order_no=state.input.order_no)
        )
        if not told and state.group_outcome is None and state.cancel is None:
            state.cancel = CancelRequest(actor=GROUP_ACTOR, reason="group buy closed")
        await workflow.wait_condition(
            lambda: state.group_outcome is not None or state.cancel is not None
        )
        if state.cancel is not None:
            return False
        await self._steps.record("group_completed", actor=GROUP_ACTOR)
        return True

    async def leave(self) -> None:
        """Ended before its group decided: the seat goes back to the group."""
        state = self._state
        group = self._group()
        if group is None or state.group_outcome is not None or not workflow.patched(GROUP_PATCH):
            return
        assert state.cancel is not None
        left = MemberLeft(order_no=state.input.order_no, reason=state.cancel.reason[:200])
        await signal_unless_gone(group, messages.GROUP_MEMBER_LEFT, left)

    def decided(self, decided: GroupDecided) -> None:
        """The group completed (the order ships once paid) or failed (cancel and refund); a
        word from another group, or a second word, is ignored."""
        state = self._state
        group = state.place_request.group if state.place_request is not None else None
        if group is None or decided.group_no != group.group_no:
            return  # not its group's word (a stray signal)
        if state.group_outcome is not None:
            return
        state.group_outcome = decided.outcome
        if decided.outcome == "failed" and state.cancel is None and not state.shipping:
            state.cancel = CancelRequest(actor=GROUP_ACTOR, reason="group buy failed")
