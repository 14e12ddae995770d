"""The staff password policy's refusal (models/domain/passwords.py) as a 422 carrying the
broken rule's code and limit, so the console says it in the page's language."""

from __future__ import annotations

from api.errors import Problem, invalid
from models.domain.passwords import broken_rule


def password_refused(field: str, password: str, username: str) -> Problem | None:
    """The 422 for a password the policy refuses (None when it is fine), naming `field`."""
    rule = broken_rule(password, username)
    if rule is None:
        return None
    return invalid(field, rule.message, rule.code, **rule.limits)
