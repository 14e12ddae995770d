"""The staff password policy's refusal (models/domain/passwords.py) as a 422 with a code for
each rule, so the console says it in the page's language: the policy names a broken rule in
English words only, which are matched here to the rule's code (a rule the table does not know
is still refused, in the policy's own words; tests/unit/test_refusals.py breaks each rule)."""

from __future__ import annotations

from typing import Final

from api.errors import Problem, invalid
from models.domain.passwords import MAX_LENGTH, MIN_LENGTH, password_problem

_RULES: Final[dict[str, tuple[str, dict[str, int]]]] = {
    f"use at least {MIN_LENGTH} characters": ("password_too_short", {"min_length": MIN_LENGTH}),
    f"use at most {MAX_LENGTH} characters": ("password_too_long", {"max_length": MAX_LENGTH}),
    "a repeated character or a keyboard run is too easy to guess": ("password_guessable", {}),
    "must not contain the username": ("password_has_username", {}),
    "this is a common password; choose another": ("password_common", {}),
    "mix at least two of: lower-case letters, upper-case letters, digits, symbols": (
        "password_one_kind",
        {},
    ),
}


def password_refused(field: str, password: str, username: str) -> Problem | None:
    """The 422 for a password the policy refuses (None when it is fine), naming `field`."""
    problem = password_problem(password, username)
    if problem is None:
        return None
    code, ctx = _RULES.get(problem, (None, {}))
    return invalid(field, problem, code, **ctx)
