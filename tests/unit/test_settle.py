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
    assert frozen == gc.get_freeze_count() > 0
    assert gc.is_tracked(before)
    kept = weakref.ref(before)
    del before
    gc.collect()
    assert kept() is not None  # frozen: the collector no longer looks at it

    after = weakref.ref(Node())
    gc.collect()
    assert after() is None  # made after settling: collected as ever
