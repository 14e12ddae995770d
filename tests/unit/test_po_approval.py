"""PO approval tiers and separation of duties in `models.domain.settlement` (DESIGN §6.5)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from models.domain.settlement import (
    ApprovalError,
    ApprovalPolicy,
    ApprovalTier,
    approval_progress,
    check_approval,
    check_rejection,
    required_roles,
)

PM, FINANCE, DIRECTOR = "purchasing_manager", "finance", "director"
POLICY = ApprovalPolicy(
    tiers=(
        ApprovalTier(min_amount_fen=0, roles=frozenset({PM})),
        ApprovalTier(min_amount_fen=1_000_000, roles=frozenset({PM, FINANCE})),
        ApprovalTier(min_amount_fen=10_000_000, roles=frozenset({PM, FINANCE, DIRECTOR})),
    )
)
BOTH = frozenset({PM, FINANCE})


@pytest.mark.parametrize(
    ("amount", "roles"),
    [
        (0, {PM}),
        (999_999, {PM}),
        (1_000_000, {PM, FINANCE}),  # at the threshold: the higher tier
        (9_999_999, {PM, FINANCE}),
        (10_000_000, {PM, FINANCE, DIRECTOR}),
    ],
)
def test_required_roles_by_tier(amount: int, roles: set[str]) -> None:
    assert required_roles(amount, POLICY) == roles


def test_tier_order_in_the_policy_does_not_matter() -> None:
    shuffled = ApprovalPolicy(tiers=tuple(reversed(POLICY.tiers)))
    assert required_roles(1_500_000, shuffled) == {PM, FINANCE}


@given(st.integers(0, 20_000_000), st.integers(0, 20_000_000))
def test_a_larger_po_never_needs_fewer_roles(a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert required_roles(low, POLICY) <= required_roles(high, POLICY)


@pytest.mark.parametrize(
    ("tiers", "message"),
    [
        ([(100, {PM})], "start at 0"),
        ([(0, {PM}), (0, {PM, FINANCE})], "two approval tiers start at 0"),
        ([(0, {PM}), (500, {FINANCE})], r"lacks roles \['purchasing_manager'\]"),
        ([], "at least 1"),
        ([(0, set())], "at least 1"),
    ],
)
def test_policies_that_could_leave_a_po_unguarded_are_refused(
    tiers: list[tuple[int, set[str]]], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        ApprovalPolicy(
            tiers=tuple(ApprovalTier(min_amount_fen=m, roles=frozenset(r)) for m, r in tiers)
        )


def test_negative_amount_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        required_roles(-1, POLICY)


def test_progress_names_missing_roles_until_every_role_approved() -> None:
    progress = approval_progress(BOTH, {})
    assert (progress.approved, progress.missing) == (False, BOTH)
    progress = approval_progress(BOTH, {PM: 7})
    assert (progress.approved, progress.missing) == (False, frozenset({FINANCE}))
    progress = approval_progress(BOTH, {PM: 7, FINANCE: 8})
    assert (progress.approved, progress.missing) == (True, frozenset())
    assert progress.model_dump()["approved"] is True


def test_progress_refuses_one_user_for_two_roles_and_roles_not_required() -> None:
    with pytest.raises(ApprovalError, match=r"one user may approve one role only: \{7: "):
        approval_progress(BOTH, {PM: 7, FINANCE: 7})
    with pytest.raises(ApprovalError, match=r"roles \['director'\] are not required"):
        approval_progress(BOTH, {DIRECTOR: 9})


def test_approvals_in_turn_complete_the_po() -> None:
    approvals: dict[str, int] = {}
    for role, user in ((FINANCE, 8), (PM, 7)):
        check_approval(
            BOTH, approvals, role=role, user_id=user, user_roles=frozenset({role}), submitted_by=5
        )
        approvals[role] = user
    assert approval_progress(BOTH, approvals).approved


@pytest.mark.parametrize(
    ("approvals", "role", "user", "holds", "message"),
    [
        ({}, DIRECTOR, 9, {DIRECTOR}, "role 'director' is not required"),
        ({PM: 7}, PM, 8, {PM}, "role 'purchasing_manager' already approved by user 7"),
        ({}, FINANCE, 8, {PM}, "user 8 does not hold role 'finance'"),
        ({}, PM, 5, {PM}, "user 5 submitted this PO and cannot approve it"),
        ({PM: 7}, FINANCE, 7, {PM, FINANCE}, r"user 7 already approved as \['purchasing_ma"),
    ],
)
def test_approvals_that_break_separation_of_duties_are_refused(
    approvals: dict[str, int], role: str, user: int, holds: set[str], message: str
) -> None:
    with pytest.raises(ApprovalError, match=message):
        check_approval(
            BOTH, approvals, role=role, user_id=user, user_roles=frozenset(holds), submitted_by=5
        )


def test_rejection_needs_a_reason_and_a_required_role() -> None:
    with pytest.raises(ApprovalError, match="needs a reason"):
        check_rejection(BOTH, user_id=8, user_roles=frozenset({FINANCE}), reason="  ")
    with pytest.raises(ApprovalError, match="holds none of the roles"):
        check_rejection(BOTH, user_id=3, user_roles=frozenset({"ops"}), reason="too dear")
    check_rejection(BOTH, user_id=8, user_roles=frozenset({FINANCE, "ops"}), reason="too dear")


def test_the_drafter_approves_none_whatever_roles_they_hold() -> None:
    every = frozenset({PM, FINANCE, DIRECTOR})
    with pytest.raises(ApprovalError, match="user 4 drafted this PO and cannot approve it"):
        check_approval(BOTH, {}, role=PM, user_id=4, user_roles=every, submitted_by=5, drafted_by=4)
    check_approval(BOTH, {}, role=PM, user_id=6, user_roles=every, submitted_by=5, drafted_by=4)
