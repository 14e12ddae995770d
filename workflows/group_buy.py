"""GroupBuyWorkflow (`group-GB…`, DESIGN §6.8): a group opened by its first buyer that needs
`size` paying members within its time limit.

Joining is an Update whose validator (and handler, for updates arriving together) refuses a
closed or full group and a customer already in it (the same customer record: two storefronts'
customer 7 are two customers), so the seat is taken before the member's order is placed. Each
member's order (`order-SO…`) tells the group when it is paid or when it ended unpaid (the seat
goes back). At `size` paid members the group completes and tells every order to ship; at the
deadline (or when operations stop the offer) it fails and tells every order still holding a
seat, which cancels itself and refunds in full through its own refund (one refund number per
order, so exactly once)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.group_buys import GroupBuyActivities
    from models.contracts import messages
    from models.contracts.group_buy import (
        HOLDING,
        CloseGroup,
        GroupDecided,
        GroupInput,
        GroupMember,
        GroupOutcome,
        GroupRecord,
        GroupStatus,
        GroupView,
        JoinRequest,
        MemberLeft,
        MemberPaid,
        same_customer,
    )
    from workflows.common import call, signal_unless_gone

TIME_LIMIT_PASSED = "time limit passed"


@workflow.defn
class GroupBuyWorkflow:
    @workflow.init
    def __init__(self, input: GroupInput) -> None:
        # Opening arrives as a join with the start: the handler needs the group at once.
        self._input = input
        self._opened_at: datetime = workflow.now()
        self._deadline = self._opened_at + timedelta(seconds=input.time_limit)
        self._members: dict[str, GroupMember] = {}
        self._status: GroupStatus = "forming"
        self._closing: str | None = None
        self._reason = ""
        self._finished_at: datetime | None = None
        self._version = 0

    @workflow.run
    async def run(self, input: GroupInput) -> GroupView:
        remaining = max(timedelta(0), self._deadline - workflow.now())
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(
                lambda: self._full() or self._closing is not None, timeout=remaining
            )
        outcome: GroupOutcome = "completed" if self._full() else "failed"
        self._status = outcome
        self._reason = "" if outcome == "completed" else (self._closing or TIME_LIMIT_PASSED)
        self._finished_at = workflow.now()
        told = [m for m in self._members.values() if m.status in HOLDING]
        for member in told:
            member.status = outcome
        await self._project()
        await asyncio.gather(*(self._tell(member.order_no, outcome) for member in told))
        await workflow.wait_condition(workflow.all_handlers_finished)
        return self.view()

    @workflow.query
    def view(self) -> GroupView:
        return GroupView(
            group_no=self._input.group_no,
            offer_id=self._input.offer_id,
            sku_id=self._input.sku_id,
            price_fen=self._input.price_fen,
            size=self._input.size,
            status=self._status,
            opened_by=self._input.opened_by,
            opened_at=self._opened_at,
            deadline=self._deadline,
            finished_at=self._finished_at,
            reason=self._reason,
            members=[m.model_copy() for m in self._members.values()],
        )

    def _full(self) -> bool:
        return sum(1 for m in self._members.values() if m.status == "paid") >= self._input.size

    async def _project(self) -> None:
        """The group and its members as they are now, for lists (newer views win)."""
        self._version += 1
        await call(
            GroupBuyActivities.record_group_buy,
            GroupRecord(view=self.view(), version=self._version),
        )

    async def _tell(self, order_no: str, outcome: GroupOutcome) -> None:
        decided = GroupDecided(group_no=self._input.group_no, outcome=outcome)
        order = workflow.get_external_workflow_handle(f"order-{order_no}")
        await signal_unless_gone(order, messages.GROUP_DECIDED, decided)

    # --- joining ------------------------------------------------------------------------------

    @workflow.update
    async def join(self, request: JoinRequest) -> GroupView:
        if request.order_no not in self._members:
            self._check_join(request)  # updates validated together: the first takes the seat
            self._members[request.order_no] = GroupMember(
                customer_id=request.customer_id,
                order_no=request.order_no,
                customer_record_id=request.customer_record_id,
                joined_at=workflow.now(),
            )
            await self._project()
        return self.view()

    @join.validator
    def _may_join(self, request: JoinRequest) -> None:
        if request.order_no not in self._members:
            self._check_join(request)

    def _check_join(self, request: JoinRequest) -> None:
        if self._status != "forming" or self._closing is not None:
            raise ApplicationError(f"group is {self._status}", type="GroupClosedError")
        if workflow.now() >= self._deadline:
            raise ApplicationError("group's time limit has passed", type="GroupClosedError")
        holding = [m for m in self._members.values() if m.status in HOLDING]
        if any(same_customer(m, request) for m in holding):
            raise ApplicationError("customer is in this group already", type="AlreadyInGroupError")
        if len(holding) >= self._input.size:
            raise ApplicationError("group is full", type="GroupFullError")

    # --- what members' orders tell ----------------------------------------------------------

    @workflow.signal(name=messages.GROUP_MEMBER_PAID)
    async def member_paid(self, paid: MemberPaid) -> None:
        member = self._members.get(paid.order_no)
        if self._status != "forming":
            # Decided before this order could hear it: tell it again (a stranger fails).
            outcome: GroupOutcome = (
                "completed" if member is not None and member.status == "completed" else "failed"
            )
            await self._tell(paid.order_no, outcome)
            return
        if member is None or member.status != "joined":
            return
        member.status = "paid"
        member.paid_at = workflow.now()
        await self._project()

    @workflow.signal(name=messages.GROUP_MEMBER_LEFT)
    async def member_left(self, left: MemberLeft) -> None:
        member = self._members.get(left.order_no)
        if self._status != "forming" or member is None or member.status not in HOLDING:
            return
        member.status = "left"
        await self._project()

    @workflow.signal
    def close(self, request: CloseGroup) -> None:
        """Operations stopped the offer: a forming group fails now."""
        if self._closing is None:
            self._closing = request.reason[:200] or "offer stopped"
