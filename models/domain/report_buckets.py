"""Duration histograms of the reports (issue 17): a duration of m minutes falls in bucket
floor(4·log2(1 + m)) (m < 0 counts as 0), a quarter octave each: bucket i holds
[2^(i/4) − 1, 2^((i+1)/4) − 1) minutes; 1 + m grows by 2^(1/4) (19 %) across a bucket, so a
bucket is seconds wide under a minute, ~10 min at an hour, ~4 h at a day. A percentile is the
upper bound of the bucket that holds it (nearest rank), rounded up to whole seconds: never
below the true value, at most one bucket above. The SQL function order_report_bucket()
(migration 0052_order_rollups) computes the same index."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

PER_OCTAVE = 4
EPSILON = 1e-9  # a boundary (1 minute → bucket 4) falls in the bucket it opens


def bucket_of(minutes: float) -> int:
    return math.floor(PER_OCTAVE * math.log2(1 + max(minutes, 0.0)) + EPSILON)


def lower_s(bucket: int) -> int:
    return round(60 * (2 ** (bucket / PER_OCTAVE) - 1))


def upper_s(bucket: int) -> int:
    """The bucket's upper bound in whole seconds, rounded up (never below a value in it)."""
    return math.ceil(60 * (2 ** ((bucket + 1) / PER_OCTAVE) - 1) - EPSILON)


def percentile_s(counts: Mapping[int, int], p: float) -> int | None:
    """The p-th percentile (0 < p ≤ 1, nearest rank) of the histogram, as its bucket's upper
    bound in seconds; None when it is empty."""
    total = sum(counts.values())
    if total <= 0:
        return None
    rank = max(1, math.ceil(p * total - EPSILON))
    seen = 0
    for bucket in sorted(counts):
        seen += counts[bucket]
        if seen >= rank:
            return upper_s(bucket)
    raise AssertionError("unreachable")


def merge(rows: Iterable[tuple[int, int]]) -> dict[int, int]:
    """(bucket, count) rows summed per bucket."""
    out: dict[int, int] = {}
    for bucket, count in rows:
        out[bucket] = out.get(bucket, 0) + count
    return out
