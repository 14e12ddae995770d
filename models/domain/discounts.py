"""Allocation of a discount to order lines in whole fen (DESIGN §7).

`allocate(discount, amounts)` splits `discount` over lines in proportion to their amounts:

1. each line first gets ⌊discount × amount / Σ amounts⌋ (integer arithmetic, no floats);
2. the remainder (fewer fen than there are lines) goes to the largest line, ties broken by the
   lowest index. In the rare case where that would take the line above its own amount, the line
   is filled up to its amount and the rest continues to the next largest line, same tie rule.

So Σ allocations == discount exactly, every allocation is 0 ≤ a ≤ its line's amount, lines of
amount 0 get nothing, and the same inputs always give the same split. A discount larger than
the lines' total is a bug in the caller (the rules cap every discount first): ValueError.
"""

from __future__ import annotations

from collections.abc import Sequence


def allocate(discount: int, amounts: Sequence[int]) -> list[int]:
    """Split `discount` fen over lines worth `amounts` fen; see the module docstring."""
    if any(amount < 0 for amount in amounts):
        raise ValueError("line amounts cannot be negative")
    total = sum(amounts)
    if discount < 0 or discount > total:
        raise ValueError(f"cannot allocate {discount} fen over lines worth {total} fen")
    if discount == 0:
        return [0] * len(amounts)
    shares = [discount * amount // total for amount in amounts]
    remainder = discount - sum(shares)
    for index in remainder_order(amounts):
        if remainder == 0:
            break
        extra = min(remainder, amounts[index] - shares[index])
        shares[index] += extra
        remainder -= extra
    return shares


def remainder_order(amounts: Sequence[int]) -> list[int]:
    """Line indices in the order the remainder visits them: largest amount first, then index."""
    return sorted(range(len(amounts)), key=lambda index: (-amounts[index], index))


def percent_of(amount: int, percent: int) -> int:
    """`percent`% of `amount` fen, rounded down to whole fen (a discount never exceeds it)."""
    return amount * percent // 100
