"""Payloads of points and levels (DESIGN §6.7): what the order and after-sale processes and the
yearly expiry hand the points activities, and what they answer."""

from __future__ import annotations

from pydantic import BaseModel


class PointsRefund(BaseModel):
    """A refund: the points its units bore go back (pro rata). An after-sale's names its number
    (its units are its lines); a package refunded by the order names the refund number and the
    units (line → quantity)."""

    order_no: str
    as_no: str = ""
    refund_no: str = ""
    units: dict[int, int] | None = None


class PointsEarned(BaseModel):
    order_no: str
    points: int
    growth: int
    level_id: int | None


class ExpiryInput(BaseModel):
    """The yearly run; `year` defaults to the business year the run starts in."""

    year: int | None = None
    batch_size: int = 500


class ExpireBatch(BaseModel):
    year: int
    after_customer_id: int = 0
    limit: int = 500


class ExpiredBatch(BaseModel):
    last_customer_id: int | None  # None: every account was seen
    customers: int
    points: int


class ExpiryResult(BaseModel):
    year: int
    customers: int
    points: int
