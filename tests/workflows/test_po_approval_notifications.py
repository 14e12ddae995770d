"""The PO approval's notifications from the workflow's own steps (time-skipping server, the real
projection service on PostgreSQL): raised at submit, raised again at the SLA reminder and at the
escalation — each once, however often a step is retried — and all done once approved."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from core.db import SessionFactory
from models.db import Notification
from services import purchasing
from tests.workflows.po_fakes import MANAGER, running

SLA = timedelta(hours=24)
MINUTE = timedelta(minutes=1)


async def test_the_approval_and_its_sla_steps_notify_the_approvers_once_and_end_done(
    task_queue: str, session_factory: SessionFactory
) -> None:
    async with running(task_queue) as po:
        await po.submit()
        await po.skip(SLA + MINUTE)
        await po.fake.wait_step("approval_reminder")
        await po.skip(SLA + MINUTE)
        await po.fake.wait_step("approval_escalated")
        before_approval = list(po.fake.of("record_po_step"))
        await po.approve(MANAGER, "purchasing_manager")
        await po.fake.wait_step("sent_to_supplier")
        steps = list(po.fake.of("record_po_step"))

    async def project(recorded: list[object]) -> list[Notification]:
        async with session_factory() as session:
            for step in recorded:  # each step twice: a retried activity
                await purchasing.record_po_step(session, step)  # type: ignore[arg-type]
                await purchasing.record_po_step(session, step)  # type: ignore[arg-type]
            await session.commit()
            return list(await session.scalars(select(Notification).order_by(Notification.id)))

    waiting = await project(before_approval)
    po_no = before_approval[0].po_no  # type: ignore[attr-defined]
    assert [(n.kind, n.ref, n.step) for n in waiting] == [
        ("po_approval", po_no, "raised"),
        ("po_approval", po_no, "reminder"),
        ("po_approval", po_no, "escalated"),
    ]
    assert all(n.done_at is None for n in waiting)
    assert waiting[0].amount_fen == 120_000 and waiting[0].detail == "purchasing_manager"
    assert {n.permission for n in waiting} == {"purchase.approve"}

    done = await project(steps[len(before_approval) :])
    assert len(done) == 3 and all(n.done_at is not None for n in done)
