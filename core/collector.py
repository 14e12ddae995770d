"""Python's cyclic garbage collector, paused around work that makes many objects and keeps them.

A full collection walks every object the process holds, and it runs again each time the
objects kept since the last one reach a quarter of the rest. Work that builds hundreds of
thousands of rows, tuples and dataclasses and keeps them until it is done (wave planning) sets
off full collections again and again, each over a larger heap: for 100,000 packages that was
more CPU than the planning itself. Reference counting still frees everything that is not a
cycle while the collector rests; it runs again, as configured, when the work is done.

The serving processes also set aside what start-up built (`settle`): a process that has
imported the app (FastAPI, SQLAlchemy's mappers, the Temporal SDK, every route and workflow
module) holds some 350,000 objects that live as long as it does, and every full collection
walked them all again: under thousands of requests a second, a pause of 100-500 ms every few
seconds in whichever requests were in flight, and CPU spent proving that nothing imported is
garbage. `gc.freeze()` after start-up moves them into a permanent generation the collector
skips; what requests allocate is collected as before.

And the API collects its young generation every 10,000 allocations (net of frees) instead of
every 700 (`collect_young_every`). With hundreds of requests in flight, a young collection every
700 allocations found each in-flight request's objects still alive and moved them on to the
older generations, whose collections then walked them again: in a flash sale's rush of 8,000
refusals at 500 in flight, 558 young, 51 middle and 5 full collections, 0.5 s of the API's CPU
(0.06 ms of its 0.45 ms per refusal). At 10,000, most of a request's objects are gone by the
next collection: 5 young and 1 middle collection, 0.04 s. Cycles are still found; they wait a
little longer (a few MB at most).
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

log = logging.getLogger(__name__)


class _Pauses:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open = 0  # pauses open now (runs of the same work may overlap on one event loop)
        self.resume = False  # whether the collector was on when the first of them began


_pauses = _Pauses()


@contextmanager
def paused() -> Iterator[None]:
    """No cyclic collection inside; the collector as it was once the last pause ends (one that
    was already off, e.g. turned off by a test or an embedding program, stays off)."""
    with _pauses.lock:
        if _pauses.open == 0:
            _pauses.resume = gc.isenabled()
            gc.disable()
        _pauses.open += 1
    try:
        yield
    finally:
        with _pauses.lock:
            _pauses.open -= 1
            if _pauses.open == 0 and _pauses.resume:
                gc.enable()


YOUNG_OBJECTS = 10_000


def collect_young_every(objects: int = YOUNG_OBJECTS) -> tuple[int, int, int]:
    """A young collection every `objects` allocations net of frees (the older generations'
    thresholds as they were); the thresholds before."""
    before = gc.get_threshold()
    gc.set_threshold(objects, before[1], before[2])
    return before


def settle() -> int:
    """Collect once, then freeze what is left (start-up's heap); the number of objects frozen."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("heap settled", extra={"frozen_objects": frozen})
    return frozen
