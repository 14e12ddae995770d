"""Payloads of the flash sale (秒杀, DESIGN §6.8): FlashSaleWorkflow's input, its stop update
and view, and the activities that open and close the campaign."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from models.contracts.order import Actor

FlashSaleStatus = Literal["scheduled", "open", "closed"]


class FlashSaleInput(BaseModel):
    flash_sale_id: int
    flash_no: str
    starts_at: datetime
    ends_at: datetime


class FlashStep(BaseModel):
    """Open or close the campaign (idempotent: a second call answers the figures as they are)."""

    flash_sale_id: int
    workflow_id: str = ""
    actor: str = "system:flash-sale"
    reason: str = ""


class FlashFigures(BaseModel):
    flash_sale_id: int
    status: FlashSaleStatus
    total: int  # carved at opening
    sold: int
    held: int  # still in the campaign's hold of stocks.reserved
    returned: int  # given back to sellable at closing


class StopFlashSale(BaseModel):
    actor: Actor
    reason: str


class FlashSaleView(BaseModel):
    flash_no: str
    status: FlashSaleStatus
    figures: FlashFigures | None = None
    stopped_by: Actor | None = None


class FlashWindow(BaseModel):
    """Where a sale's window is: its status and the id of the workflow that holds it (none
    before it opened)."""

    status: FlashSaleStatus
    workflow_id: str | None = None


class FlashWindowEnded(BaseModel):
    """The sale's closing Schedule to its workflow: the window's end has come."""

    by: str = "schedule"
