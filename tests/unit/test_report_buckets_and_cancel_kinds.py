"""The reports' duration buckets and percentiles (models/domain/report_buckets.py) and the kinds
of cancel (models/domain/cancel_kinds.py), pinned to the reasons the order process writes."""

from __future__ import annotations

from pathlib import Path

from models.domain.cancel_kinds import (
    GROUP_BUY,
    NOTHING_DELIVERED,
    PAYMENT_TIMEOUT,
    RISK_REVIEW_PREFIX,
    cancel_kind,
)
from models.domain.report_buckets import bucket_of, lower_s, percentile_s, upper_s

# The order's process: its workflow and the parts it runs (workflows/order_*.py).
ORDER_MODULES = sorted((Path(__file__).parents[2] / "workflows").glob("order*.py"))


def test_buckets_are_quarter_octaves_of_minutes() -> None:
    assert [bucket_of(m) for m in (0, -5, 0.1, 1, 3, 15, 60, 1440)] == [0, 0, 0, 4, 8, 16, 23, 41]
    for bucket in range(80):  # [2^(i/4) − 1, 2^((i+1)/4) − 1) minutes
        low, high = 2 ** (bucket / 4) - 1, 2 ** ((bucket + 1) / 4) - 1
        assert bucket_of(low * (1 + 1e-6) + 1e-7) == bucket == bucket_of(high * (1 - 1e-6))
        assert bucket_of(high * (1 + 1e-6)) == bucket + 1
        # The upper bound shown is never below a value in the bucket; 1 + minutes grows by
        # 2^(1/4) (19 %) from a bucket's lower bound to its upper one.
        assert high * 60 <= upper_s(bucket) < high * 60 + 1
        assert 60 + upper_s(bucket) <= (60 + lower_s(bucket)) * 1.19 + 2


def test_percentiles_are_the_upper_bound_of_the_nearest_rank_bucket() -> None:
    assert percentile_s({}, 0.5) is None
    counts = {13: 1, 23: 1, 41: 1}  # 10 min, 60 min, a day
    assert percentile_s(counts, 0.5) == upper_s(23) == 3780
    assert percentile_s(counts, 0.9) == upper_s(41) == 86830
    assert percentile_s({4: 10}, 0.9) == upper_s(4)
    many = {5: 50, 9: 40, 30: 10}  # p90: the 90th of 100 is still in bucket 9
    assert (percentile_s(many, 0.5), percentile_s(many, 0.9)) == (upper_s(5), upper_s(9))


def test_the_reasons_the_order_process_writes_are_the_ones_classified() -> None:
    source = "".join(path.read_text() for path in ORDER_MODULES)
    for reason in (*PAYMENT_TIMEOUT, *GROUP_BUY, NOTHING_DELIVERED):
        assert f'reason="{reason}"' in source, reason
    assert f'reason=f"{RISK_REVIEW_PREFIX} ' in source


def test_cancel_kinds() -> None:
    kinds = {
        ("payment deadline passed", "system", False): "payment_timeout",
        ("balance not paid in time", "system", False): "payment_timeout",
        ("nothing was delivered", "system", True): "out_of_stock",
        ("nothing was delivered", "system", False): "undelivered",
        ("group buy failed", "system", False): "group_buy",
        ("risk review: 地址可疑", "user", False): "risk_review",
        ("不想要了", "storefront", False): "customer",
        ("payment deadline passed", "storefront", False): "customer",  # typed by a person
        ("顾客来电", "user", False): "staff",
        ("", "provider", False): "other",
    }
    for (reason, actor, short), kind in kinds.items():
        assert cancel_kind(reason, actor, units_short=short) == kind, (reason, actor)
