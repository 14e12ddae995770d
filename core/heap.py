"""The long-lived heap of a serving process, set aside from the garbage collector.

A process that has imported the app (FastAPI, SQLAlchemy's mappers, the Temporal SDK, every
route and workflow module) holds some 350,000 objects that live as long as it does. CPython's
oldest-generation collection walks all of them, and with thousands of requests a second
allocating, it runs every few seconds: a pause of 100–500 ms on this machine that lands in
whichever requests are in flight (the tail of every latency figure) and CPU spent proving that
nothing imported is garbage. `gc.freeze()` after start-up moves what exists then into a
permanent generation the collector skips; what requests allocate is still collected as before.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def settle() -> int:
    """Collect once, then freeze what is left; the number of objects frozen."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("heap settled", extra={"frozen_objects": frozen})
    return frozen
