"""Putaway tasks (上架, DESIGN §6.9) as the API shows and takes them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from api.pagination import Page
from api.schemas.common import Strict
from api.schemas.types import Id, Text

PutawayStatus = Literal["open", "done", "cancelled"]
ActionId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9\-_.:]{8,64}$")]
Scanned = Annotated[Text, Field(min_length=1, max_length=64)]


class PutawayPutIn(Strict):
    """One put of a task: where (the scanned location, or its id) and how many. The device's
    action id makes a resent put answer the same and move nothing twice."""

    action_id: ActionId
    location_barcode: Scanned | None = None
    location_id: Id | None = None
    quantity: Annotated[int, Field(ge=1, le=10**9, strict=True)]
    # The first scan, when the device sends it: the task's SKU or from-location barcode.
    scanned: Scanned | None = None

    @model_validator(mode="after")
    def _one_location(self) -> PutawayPutIn:
        if (self.location_barcode is None) == (self.location_id is None):
            raise ValueError("give location_barcode or location_id, one of them")
        return self


class PutawayPutPublic(BaseModel):
    action_id: str
    to_location_id: int
    to_location_code: str
    quantity: int
    actor: str
    at: datetime


class PutawayTaskPublic(BaseModel):
    task_no: str
    warehouse_id: int
    sku_id: int
    sku_code: str
    sku_name: str
    sku_barcode: str
    batch_no: str
    from_location_id: int
    from_location_code: str
    from_location_barcode: str
    quantity: int
    put: int
    remaining: int
    suggested_location_id: int | None
    suggested_location_code: str | None
    suggested_location_barcode: str | None
    status: PutawayStatus
    source_type: str
    source_no: str
    created_at: datetime
    done_by: str | None
    done_at: datetime | None
    puts: list[PutawayPutPublic] = []


PutawayTasksPublic = Page[PutawayTaskPublic]


class PutawayAnswer(BaseModel):
    action_id: str
    replayed: bool
    task: PutawayTaskPublic
