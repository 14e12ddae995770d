"""Payloads of the transfer between warehouses (`transfer-TR…`, DESIGN §6.9): the workflow's
input, updates and view, and its activities' arguments. The rules are
models/domain/transfers.py's."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from models.contracts.order import Actor

TransferStatus = Literal[
    "requested",  # stock reserved at the source, waiting for its manager
    "approved",  # released to the source's floor: waits for a wave, picked there
    "picked",  # picked through the wave, waiting to be loaded
    "in_transit",  # shipped: off the source's books, in transit at the destination
    "closed",  # received at the destination (short, over and damaged recorded)
    "rejected",
    "cancelled",
]
OPEN_BEFORE_SHIPPING: tuple[TransferStatus, ...] = ("requested", "approved", "picked")


class TransferStaff(BaseModel):
    """A person acting on a transfer: the audit actor plus what the approval rule needs."""

    actor: Actor
    user_id: int
    roles: frozenset[str]
    warehouses: list[int] | None = None  # the data scope; None: every warehouse


class TransferLine(BaseModel):
    line_no: int
    sku_id: int
    quantity: int


class TransferInput(BaseModel):
    transfer_no: str
    from_warehouse_id: int
    to_warehouse_id: int
    carrier_code: str  # the line haul leaving the source (its cutoffs plan the wave)
    lines: list[TransferLine]
    requested_by: TransferStaff
    note: str = ""


class TransferDecision(BaseModel):
    by: TransferStaff
    reason: str = ""


class ShipTransfer(BaseModel):
    by: Actor


class ReceivedLine(BaseModel):
    line_no: int
    good: Annotated[int, Field(ge=0)]
    damaged: Annotated[int, Field(ge=0)] = 0


class TransferReceipt(BaseModel):
    """What the destination counted; `receipt_key` makes a resend the same receipt."""

    receipt_key: Annotated[str, Field(min_length=1, max_length=64)]
    lines: list[ReceivedLine]
    actor: Actor


class TransferLineView(BaseModel):
    line_no: int
    sku_id: int
    requested: int
    picked: int = 0
    shipped: int = 0
    good: int = 0
    damaged: int = 0
    short: int = 0
    over: int = 0


class TransferView(BaseModel):
    transfer_no: str
    from_warehouse_id: int
    to_warehouse_id: int
    status: TransferStatus
    wave_no: str | None = None
    lines: list[TransferLineView]
    receipt_key: str | None = None
    reason: str = ""


# --- activities ------------------------------------------------------------------------------


class TransferStep(BaseModel):
    """A projection write: the transfer row, its lines' figures, one timeline event."""

    transfer_no: str
    status: TransferStatus
    seq: int
    step: str
    actor: Actor
    at: datetime
    detail: dict[str, str | int | bool | None] = Field(default_factory=dict)
    view: TransferView


class TransferRelease(BaseModel):
    """The transfer no longer holds its reservation at the source (rejected or cancelled)."""

    transfer_no: str
    reason: str
    actor: str


class TransferShipment(BaseModel):
    transfer_no: str
    from_warehouse_id: int
    to_warehouse_id: int
    actor: str


class ShippedLine(BaseModel):
    line_no: int
    sku_id: int
    quantity: int


class TransferArrival(BaseModel):
    transfer_no: str
    to_warehouse_id: int
    receipt_key: str
    lines: list[TransferLineView]  # with shipped, good, damaged, short, over worked out
    actor: str
