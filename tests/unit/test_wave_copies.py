"""services.ordered_writes.OrderedWrites, a wave build's writer: the COPYs and statements of a
wave build go out in order on one connection while the build goes on, an error of theirs reaches
the build (and whoever waits for a later one), and a failed build stops them."""

from __future__ import annotations

import asyncio

import pytest

from models.db import PickAllocation, PickStop, PickTask
from services.ordered_writes import OrderedWrites


class FakeDriver:
    def __init__(self, fail_on: str | None = None) -> None:
        self.copied: list[tuple[str, int]] = []
        self.fail_on = fail_on

    async def copy_records_to_table(
        self, table: str, *, records: list[tuple[object, ...]], columns: list[str]
    ) -> None:
        await asyncio.sleep(0.01)
        if table == self.fail_on:
            raise RuntimeError(f"copy into {table} refused")
        self.copied.append((table, len(records)))


async def test_copies_go_out_in_the_order_given_and_empty_ones_not_at_all() -> None:
    driver = FakeDriver()
    copies = OrderedWrites(driver)
    copies.send(PickAllocation, ["id"], [(1,), (2,)])
    copies.send(PickTask, ["task_no"], [])
    copies.send(PickStop, ["task_no"], [("T-1",)])
    await copies.done()
    assert driver.copied == [("pick_allocations", 2), ("pick_stops", 1)]


async def test_a_failed_copy_fails_the_build() -> None:
    copies = OrderedWrites(FakeDriver(fail_on="pick_allocations"))
    copies.send(PickAllocation, ["id"], [(1,)])
    copies.send(PickStop, ["task_no"], [("T-1",)])
    with pytest.raises(RuntimeError, match="pick_allocations"):
        await copies.done()


async def test_a_failed_build_ends_the_copy_under_way_and_sends_no_more() -> None:
    driver = FakeDriver()
    copies = OrderedWrites(driver)
    copies.send(PickAllocation, ["id"], [(1,)])
    await asyncio.sleep(0)  # the first copy is under way
    copies.send(PickStop, ["task_no"], [("T-1",)])
    await copies.abandon()
    assert driver.copied == [("pick_allocations", 1)]


async def test_a_statement_gives_its_result_in_turn_and_a_failed_copy_fails_the_ones_after() -> (
    None
):
    driver = FakeDriver(fail_on="pick_stops")
    copies = OrderedWrites(driver)
    copies.send(PickAllocation, ["id"], [(1,)])

    async def count(d: FakeDriver) -> int:
        return len(d.copied)

    first = copies.run(count)
    copies.send(PickStop, ["task_no"], [("T-1",)])
    later = copies.run(count)
    assert await first == 1  # after the copy before it
    with pytest.raises(RuntimeError, match="pick_stops"):
        await later  # a caller waiting on a write after the failed one is not left hanging
    with pytest.raises(RuntimeError, match="pick_stops"):
        await copies.done()
