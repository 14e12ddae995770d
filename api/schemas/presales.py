"""Presale schemas (预售, DESIGN §6.8)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from api.pagination import Page
from api.schemas.common import Public, Strict
from api.schemas.types import AwareInstant, Fen, Id, Reason, ShortName

Percent = Annotated[int, Field(ge=0, le=100, strict=True)]
PresaleStatus = Literal["active", "stopped"]
PresalePhase = Literal["scheduled", "deposits", "balance", "ended", "stopped"]
PresaleSort = Literal["-starts_at", "starts_at", "-id", "id"]


class PresaleCreate(Strict):
    name: ShortName
    sku_id: Id
    price_fen: Fen  # the presale price of one unit
    deposit_fen: Fen  # of one unit, below the presale price
    starts_at: AwareInstant  # deposits taken from then until the balance window opens
    balance_starts_at: AwareInstant
    balance_ends_at: AwareInstant
    forfeit_percent: Percent = 100  # of the deposit kept when the balance is not paid in time
    refund_percent: Percent = 100  # of the deposit given back on a cancel before the window


class PresaleStopIn(Strict):
    reason: Reason


class PresalePublic(Public):
    id: int
    name: str
    sku_id: int
    price_fen: int
    deposit_fen: int
    starts_at: datetime
    balance_starts_at: datetime
    balance_ends_at: datetime
    forfeit_percent: int
    refund_percent: int
    status: PresaleStatus
    phase: PresalePhase
    created_by: str
    stopped_at: datetime | None
    stopped_by: str | None
    stop_reason: str | None


class PresaleDetail(PresalePublic):
    orders: int
    awaiting_deposit: int
    deposits_paid: int
    balances_paid: int
    forfeited: int
    cancelled: int
    deposit_fen_paid: int
    balance_fen_paid: int
    forfeited_fen: int


class PresalesPublic(Page[PresalePublic]):
    pass
