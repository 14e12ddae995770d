"""core/collector.py `settle`: start-up's heap is frozen out of collection; later garbage is not."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from core import collector


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # the test process goes on collecting as before


def test_settle_freezes_what_exists_and_later_cycles_are_still_collected(unfrozen: None) -> None:
    before = Node()
    frozen = collector.settle()
    # Frozen objects freed since (another thread's, by their reference count) leave the count;
    # nothing is added to it but by another freeze.
    assert 0 < gc.get_freeze_count() <= frozen
    assert gc.is_tracked(before)
    kept = weakref.ref(before)
    del before
    gc.collect()
    assert kept() is not None  # frozen: the collector no longer looks at it

    after = weakref.ref(Node())
    gc.collect()
    assert after() is None  # made after settling: collected as ever


def test_the_young_generation_is_collected_less_often_and_cycles_still_go_by_themselves() -> None:
    before = collector.collect_young_every(10_000)
    try:
        assert gc.get_threshold() == (10_000, before[1], before[2])
        gc.collect()
        cycle = weakref.ref(Node())
        few = [[] for _ in range(500)]  # fewer allocations than the threshold: not yet
        assert cycle() is not None
        many = [[] for _ in range(20_000)]  # past it: a collection found the cycle
        assert cycle() is None
        assert len(few) + len(many) == 20_500
    finally:
        gc.set_threshold(*before)
