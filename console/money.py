"""Money for people: fen shown as ¥1,234.56, and text entered by people parsed exactly to fen.

Never through a float: `33.345` is an error, not 33.35 or 33.34.
"""

from __future__ import annotations

import re

_AMOUNT = re.compile(r"^[¥￥]?(?P<yuan>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.(?P<fen>[0-9]{1,2}))?$")
MAX_FEN = 10**12  # the API's ceiling for any amount


class AmountError(ValueError):
    """Text that is not an exact, non-negative amount of yuan with at most two decimals."""


def parse_fen(text: str) -> int:
    """`33.34` → 3334, `1,234.5` → 123450, `¥12` → 1200. Raises AmountError for more than two
    decimals, negative amounts, misplaced thousands separators or anything else."""
    match = _AMOUNT.match(text.strip())
    if match is None:
        raise AmountError(text)
    yuan = int(match["yuan"].replace(",", ""))
    fen = int((match["fen"] or "").ljust(2, "0"))
    total = yuan * 100 + fen
    if total > MAX_FEN:
        raise AmountError(text)
    return total


def format_fen(fen: int) -> str:
    """3334 → `¥33.34`, 123456789 → `¥1,234,567.89`, -150 → `-¥1.50`."""
    sign = "-" if fen < 0 else ""
    yuan, rest = divmod(abs(fen), 100)
    return f"{sign}¥{yuan:,}.{rest:02d}"
