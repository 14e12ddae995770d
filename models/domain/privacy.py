"""Masking personal data (DESIGN §9): what staff see of a customer's phone, name and address
unless they reveal it, which is audited. Pure functions.

- phone: the first 3 and last 4 digits stay, the rest become `*` (138****0000); a number of 7
  characters or fewer keeps only its last 2;
- name: the first character stays, the rest become `*` (张*, 欧阳** );
- address detail: the first third stays, at most 6 characters (the road or compound), the rest is
  `****` — never the house or room number.
"""

from __future__ import annotations

MASK = "*"


def mask_phone(phone: str) -> str:
    if len(phone) <= 7:
        return MASK * max(len(phone) - 2, 0) + phone[-2:]
    return phone[:3] + MASK * (len(phone) - 7) + phone[-4:]


def mask_name(name: str) -> str:
    return name[:1] + MASK * max(len(name) - 1, 1) if name else ""


def mask_detail(detail: str) -> str:
    kept = min(len(detail) // 3, 6)
    return detail[:kept] + MASK * 4 if detail else ""
