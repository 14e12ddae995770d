"""Who counts as the same group member (issue 16): the same customer record; a member or a join
from before joins named their record (a group in flight) is compared by the storefront's key,
as it was then."""

from __future__ import annotations

from datetime import UTC, datetime

from models.contracts.group_buy import GroupMember, JoinRequest, same_customer

NOW = datetime(2026, 12, 6, tzinfo=UTC)


def member(key: int, record: int | None) -> GroupMember:
    return GroupMember(customer_id=key, order_no="SO1", customer_record_id=record, joined_at=NOW)


def join(key: int, record: int | None) -> JoinRequest:
    return JoinRequest(customer_id=key, order_no="SO2", customer_record_id=record)


def test_two_storefronts_same_key_are_two_members() -> None:
    assert not same_customer(member(7, 101), join(7, 202))


def test_the_same_record_is_the_same_member() -> None:
    assert same_customer(member(7, 101), join(7, 101))


def test_without_a_record_on_either_side_the_key_decides_as_before() -> None:
    assert same_customer(member(7, None), join(7, 202))
    assert same_customer(member(7, 101), join(7, None))
    assert not same_customer(member(7, None), join(8, 202))
