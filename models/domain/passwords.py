"""The staff password policy (DESIGN §9), checked whenever a password is set or changed.

After NIST SP 800-63B: length matters most, known and guessable passwords are refused, and the
composition rule stays light (two kinds of character) so passphrases like
"correct-horse-battery" remain allowed:

- 10 to 200 characters;
- at least two of: lower-case letters, upper-case letters, digits, other characters;
- not one character repeated (or a run like "1234567890" / "abcdefghij");
- does not contain the username, and is not a common password — also once the digits and
  symbols around it are removed ("Password123!" is "password").
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field
from typing import Final

MIN_LENGTH: Final = 10
MAX_LENGTH: Final = 200

# Passwords and stems at the top of the public leaked-password lists (SecLists, HIBP), in lower
# case; a password whose stem (letters left once leading/trailing digits and symbols are gone)
# is one of these is refused.
_COMMON_WORDS: Final = """
    password passw0rd p@ssw0rd p@ssword password1 qwerty qwertyuiop qwertyui qwerty123 asdfgh
    asdfghjkl zxcvbnm zxcvbnm123 1qaz2wsx 1q2w3e4r 1q2w3e4r5t qazwsx qweasd qweasdzxc
    abc123 abcd1234 iloveyou admin administrator root letmein welcome welcome1 monkey dragon
    master sunshine princess football baseball superman batman trustno1 shadow michael
    starwars whatever freedom hello hello123 login changeme default secret secret123 test
    test123 testing guest user houtai houtai123 woaini woaini1314 aini1314 5201314 1314520
    zhangwei wangwei liwei iloveu loveyou passport computer internet google chinese china
    shanghai beijing admin123 admin888 administrator1 welcome123 company office staff
    backoffice ecommerce
"""
COMMON: Final = frozenset(_COMMON_WORDS.split())
_RUNS: Final = ("0123456789012", "abcdefghijklmnopqrstuvwxyz", "qwertyuiopasdfghjklzxcvbnm")


@dataclass(frozen=True)
class BrokenRule:
    """A rule the password breaks: its code (the console's words for it), the policy's English
    words, and the limit it states, if any."""

    code: str
    message: str
    limits: dict[str, int] = field(default_factory=dict)


def broken_rule(password: str, username: str) -> BrokenRule | None:
    """The first rule the password breaks; None if it is fine."""
    lowered = password.lower()
    stem = lowered.strip(string.digits + string.punctuation + " ")
    rules = (
        (
            len(password) < MIN_LENGTH,
            BrokenRule("password_too_short", f"use at least {MIN_LENGTH} characters",
                       {"min_length": MIN_LENGTH}),
        ),
        (
            len(password) > MAX_LENGTH,
            BrokenRule("password_too_long", f"use at most {MAX_LENGTH} characters",
                       {"max_length": MAX_LENGTH}),
        ),
        (
            len(set(lowered)) == 1 or any(lowered in run or lowered in run[::-1] for run in _RUNS),
            BrokenRule("password_guessable",
                       "a repeated character or a keyboard run is too easy to guess"),
        ),
        (
            bool(username) and username.lower() in lowered,
            BrokenRule("password_has_username", "must not contain the username"),
        ),
        (
            lowered in COMMON or stem in COMMON,
            BrokenRule("password_common", "this is a common password; choose another"),
        ),
        (
            _classes(password) < 2,
            BrokenRule("password_one_kind",
                       "mix at least two of: lower-case letters, upper-case letters, digits, "
                       "symbols"),
        ),
    )  # fmt: skip
    return next((rule for broken, rule in rules if broken), None)


def password_problem(password: str, username: str) -> str | None:
    """Why the password is refused, in words for the person choosing it; None if it is fine."""
    rule = broken_rule(password, username)
    return rule.message if rule is not None else None


def _classes(password: str) -> int:
    kinds = (str.islower, str.isupper, str.isdigit)
    found = {i for c in password for i, is_kind in enumerate(kinds) if is_kind(c)}
    if any(not (c.islower() or c.isupper() or c.isdigit()) for c in password):
        found.add(len(kinds))
    return len(found)
