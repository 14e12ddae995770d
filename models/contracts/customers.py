"""Payloads of members (DESIGN §6.7): segment rules over orders, and the coupon batch
(`coupon-batch-<id>`) that issues a coupon to every customer of a segment.

Segment rules are a tagged union: a new rule is one more model here (and its SQL in
services/segments.py, RULE_SQL). A customer is in a segment when every rule holds, measured
as of one instant (the batch's `as_of`), so a batch's retries choose the same customers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

BatchStatus = Literal["running", "done", "failed"]


class PaidAtLeast(BaseModel):
    """Paid (net of refunds) at least `min_fen` on orders placed in the last `days` days."""

    kind: Literal["paid_at_least"] = "paid_at_least"
    min_fen: int
    days: int


class NoOrderIn(BaseModel):
    """No paid order placed in the last `days` days (a cart never paid does not count)."""

    kind: Literal["no_order_in"] = "no_order_in"
    days: int


class LevelAtLeast(BaseModel):
    """At the member level `level_id` or above (e.g. level ≥ 3): the growth value booked by
    the instant measured reaches that level's threshold (levels rank by their thresholds)."""

    kind: Literal["level_at_least"] = "level_at_least"
    level_id: int


Rule = Annotated[PaidAtLeast | NoOrderIn | LevelAtLeast, Field(discriminator="kind")]


class Segment(BaseModel):
    rules: list[Rule]


class CouponBatchInput(BaseModel):
    batch_id: int
    chunk: int = 500  # customers per activity call
    after: int = 0  # the last customer id already handled (a run continued as new)
    issued: int = 0  # issued before this run continued as new
    chunks_per_run: int = 200  # continue as new past this many chunks: the history stays small


class IssueChunk(BaseModel):
    batch_id: int
    after: int  # the segment's customers with an id above this one, in id order
    limit: int


class ChunkIssued(BaseModel):
    last: int  # the last customer id of the chunk (the next chunk starts after it)
    issued: int  # the chunk's customers who hold the coupon now (a re-run answers the same)
    done: bool  # the chunk was the segment's last


class BatchProgress(BaseModel):
    batch_id: int
    status: BatchStatus
    issued: int
    after: int
