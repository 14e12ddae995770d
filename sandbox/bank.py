"""The sandbox bank: supplier payments (银企直连 transfers) on the payment provider's host.

A transfer is idempotent by the payer's transfer key: the same key answers the transfer already
made (200), never a second one. Faults configured on the provider apply here too."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from dataclasses import dataclass, field

from fastapi import FastAPI, Response
from pydantic import BaseModel, Field

from sandbox.common import Clock, SandboxError, StrictModel


class TransferCreate(StrictModel):
    transfer_key: str = Field(min_length=1, max_length=64)
    payee_name: str = Field(min_length=1, max_length=200)
    payee_account: str = Field(min_length=1, max_length=64)
    amount_fen: int = Field(gt=0)
    currency: str = "CNY"
    memo: str = Field("", max_length=256)


class TransferView(BaseModel):
    transfer_id: str
    transfer_key: str
    status: str = "succeeded"
    payee_name: str
    payee_account: str
    amount_fen: int
    currency: str
    memo: str
    occurred_at: dt.datetime


@dataclass
class Bank:
    clock: Clock
    transfers: dict[str, TransferView] = field(default_factory=dict)  # by transfer key
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def transfer(self, body: TransferCreate) -> tuple[TransferView, bool]:
        async with self._lock:
            if (done := self.transfers.get(body.transfer_key)) is not None:
                same = (done.amount_fen, done.payee_account) == (
                    body.amount_fen,
                    body.payee_account,
                )
                if not same:
                    raise SandboxError(409, "transfer_key reused", "for a different transfer")
                return done, False
            view = TransferView(
                transfer_id=f"trf_{uuid.uuid4().hex[:24]}",
                occurred_at=self.clock(),
                **body.model_dump(),
            )
            self.transfers[body.transfer_key] = view
            return view, True


def add_bank_routes(app: FastAPI, clock: Clock) -> Bank:
    bank = Bank(clock)

    @app.post("/v1/transfers", status_code=201)
    async def create_transfer(body: TransferCreate, response: Response) -> TransferView:
        view, created = await bank.transfer(body)
        if not created:
            response.status_code = 200
        return view

    @app.get("/v1/transfers")
    async def list_transfers() -> list[TransferView]:
        return list(bank.transfers.values())

    return bank
