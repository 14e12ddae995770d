"""Presale (预售, DESIGN §6.8) contracts: the terms an order takes from its presale at placement
and the stages it records (deposit paid, balance paid, forfeited, refunded)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

PresaleStage = Literal["deposit_paid", "balance_paid", "forfeited", "cancelled"]


class JoinPresale(BaseModel):
    order_no: str
    presale_id: int
    sku_id: int
    quantity: int


class PresaleTerms(BaseModel):
    """What the order owes and when: the deposit now (the usual payment deadline), the balance
    (payable − deposit) between the window's start and end. Rules in percent of the deposit:
    `forfeit_percent` kept when the balance is not paid in time (or the order is cancelled once
    the window is open); `refund_percent` given back on a cancel before the window opens."""

    presale_id: int
    deposit_fen: int  # for the whole order (deposit per unit × quantity)
    balance_starts_at: datetime
    balance_ends_at: datetime
    forfeit_percent: int
    refund_percent: int


class PresaleStep(BaseModel):
    order_no: str
    presale_id: int
    stage: PresaleStage
    amount_fen: int = 0  # deposit, balance, or the forfeited part
