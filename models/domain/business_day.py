"""The business's clock (DESIGN §4): days, numbers and reports are counted in Asia/Shanghai.
A fixed +08:00 offset (China has kept no daylight saving since 1991), so workflows may use it
too: it reads no time-zone database and gives the same answer on replay."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Final

BUSINESS_TZ: Final = timezone(timedelta(hours=8), "CST")


def business_day(moment: datetime) -> date:
    """The calendar day in Asia/Shanghai of an aware moment."""
    return moment.astimezone(BUSINESS_TZ).date()
