"""Segments by rules over orders, and coupons issued to a segment (DESIGN §6.7).

Issuing starts CouponBatchWorkflow (`coupon-batch-<id>`) over a batch row that counts the
segment as of now; the row's `issued` moves with every chunk, so the batch's progress is read
from it (lists come from projection tables). Each customer gets the coupon once per batch."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Header, Query
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from api.deps import Deps, Session, Writer, require, writer
from api.errors import conflict, invalid, not_found
from api.pagination import Paging, fetch_page
from api.routes.customers import customer_public
from api.routing import Routes
from api.schemas.customers import (
    CouponBatchCreate,
    CouponBatchesPublic,
    CouponBatchPublic,
    CustomersPublic,
    SegmentCreate,
    SegmentPublic,
    SegmentsPublic,
)
from api.schemas.types import IdParam
from api.workflow_calls import answer
from models.contracts.customers import CouponBatchInput
from models.contracts.customers import Segment as SegmentRules
from models.db import Coupon, CouponBatch, Customer, MemberLevel, Segment
from services import segments
from workflows.coupon_batch import CouponBatchWorkflow, coupon_batch_id

router = Routes(prefix="/v1", tags=["segments"])
Read = Depends(require("segments.read"))
Write = Annotated[Writer, Depends(writer("segments.write"))]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=100,
        description="The same key answers the batch it started, never a second one",
    ),
]


async def _segment(session: AsyncSession, segment_id: int, *, lock: bool = False) -> Segment:
    """The segment; `lock`: its row held to the end of the transaction, so starting a batch
    and archiving the segment happen one after the other."""
    segment = await session.get(Segment, segment_id, with_for_update=lock)
    if segment is None:
        raise not_found("segment", segment_id)
    return segment


async def _checked(session: AsyncSession, body: SegmentCreate, segment_id: int | None = None) -> (
    list[dict[str, object]]
):  # fmt: skip
    """The body's rules as stored, once its name is free (but for the segment `segment_id`
    itself) and every level its rules name exists."""
    taken = await session.scalar(select(Segment.id).where(Segment.name == body.name))
    if taken is not None and taken != segment_id:
        raise conflict(
            f"segment {body.name} already exists",
            field="name",
            reason="segment_exists",
            segment=body.name,
        )
    rules: list[dict[str, object]] = SegmentRules.model_validate(body.model_dump()).model_dump()[
        "rules"
    ]
    for rule in rules:
        level = rule.get("level_id")
        if isinstance(level, int) and await session.get(MemberLevel, level) is None:
            raise invalid(
                "rules", f"member level {level} does not exist", "unknown_level", level_id=level
            )
    return rules


@router.post("/segments", status_code=201)
async def create_segment(body: SegmentCreate, w: Write) -> SegmentPublic:
    rules = await _checked(w.session, body)
    segment = Segment(name=body.name, rules=rules)
    w.session.add(segment)
    await w.session.flush()
    await w.commit("segment.create", "segment", segment.id, {"rules": rules})
    return SegmentPublic.model_validate(segment)


@router.put("/segments/{segment_id}")
async def update_segment(segment_id: IdParam, body: SegmentCreate, w: Write) -> SegmentPublic:
    """Rename the segment or change its rules (the whole set, as on creation). Its batches,
    running or done, keep the rules they were started with; the next batch counts by the new
    ones. An archived segment is not edited (409 `segment_archived`)."""
    segment = await _segment(w.session, segment_id, lock=True)
    if segment.archived_at is not None:
        raise conflict(f"segment {segment.name} is archived", reason="segment_archived")
    rules = await _checked(w.session, body, segment.id)
    if (segment.name, segment.rules) != (body.name, rules):
        before = {"name": segment.name, "rules": segment.rules}
        segment.name, segment.rules = body.name, rules
        await w.commit(
            "segment.update", "segment", segment.id,
            {"before": before, "after": {"name": body.name, "rules": rules}},
        )  # fmt: skip
        await w.session.refresh(segment)  # its updated_at, set by the database
    return SegmentPublic.model_validate(segment)


@router.get("/segments", dependencies=[Read])
async def list_segments(
    session: Session,
    paging: Paging,
    archived: Annotated[bool, Query(description="the archived segments instead")] = False,
) -> SegmentsPublic:
    """The segments in use, newest first (`archived=true`: those archived)."""
    kept = Segment.archived_at.is_not(None) if archived else Segment.archived_at.is_(None)
    query = select(Segment).where(kept).order_by(Segment.id.desc())
    rows, count = await fetch_page(session, query, paging)
    return SegmentsPublic(data=[SegmentPublic.model_validate(r) for r in rows], count=count)


@router.post("/segments/{segment_id}/archive")
async def archive_segment(segment_id: IdParam, w: Write) -> SegmentPublic:
    """No longer listed or issued to, and its rules no longer keep a member level from being
    removed; kept, with its batches. Refused while a batch of it is running; archiving an
    archived segment answers it as it is."""
    segment = await _segment(w.session, segment_id, lock=True)
    if segment.archived_at is None:
        running = await w.session.scalar(
            select(CouponBatch.id).where(
                CouponBatch.segment_id == segment.id, CouponBatch.status == "running"
            )
        )
        if running is not None:
            raise conflict(
                f"segment {segment.name} is issuing coupons (batch {running}): archive it after",
                reason="batch_running",
                batch_id=running,
            )
        segment.archived_at = datetime.now(UTC)
        await w.commit("segment.archive", "segment", segment.id, {"name": segment.name})
        await w.session.refresh(segment)
    return SegmentPublic.model_validate(segment)


@router.get("/segments/{segment_id}", dependencies=[Read])
async def get_segment(segment_id: IdParam, session: Session) -> SegmentPublic:
    """The segment with its members counted now."""
    segment = await _segment(session, segment_id)
    members = await segments.count_members(session, segments.rules_of(segment), datetime.now(UTC))
    return SegmentPublic.model_validate(segment).model_copy(update={"members": members})


@router.get(
    "/segments/{segment_id}/customers",
    dependencies=[Read, Depends(require("customers.read"))],
)
async def segment_customers(
    segment_id: IdParam, session: Session, paging: Paging
) -> CustomersPublic:
    """The segment's customers now, in id order (masked)."""
    segment = await _segment(session, segment_id)
    condition = segments.member(segments.rules_of(segment), datetime.now(UTC))
    rows, count = await fetch_page(
        session, select(Customer).where(condition).order_by(Customer.id), paging
    )
    return CustomersPublic(data=[customer_public(c, masked=True) for c in rows], count=count)


async def _batch_of_key(
    session: AsyncSession, key: str, segment_id: int, coupon_id: int
) -> CouponBatchPublic | None:
    """The batch started with this Idempotency-Key, if any (409 if it was another one's)."""
    batch = await session.scalar(select(CouponBatch).where(CouponBatch.idempotency_key == key))
    if batch is None:
        return None
    if (batch.segment_id, batch.coupon_id) != (segment_id, coupon_id):
        raise conflict(
            f"Idempotency-Key {key} started batch {batch.id} of another segment or coupon",
            field="Idempotency-Key",
        )
    return CouponBatchPublic.model_validate(batch)


@router.post("/segments/{segment_id}/coupon-batches", status_code=201)
async def issue_coupons(
    segment_id: IdParam,
    body: CouponBatchCreate,
    deps: Deps,
    w: Write,
    key: IdempotencyKey = None,
) -> CouponBatchPublic:
    """Give coupon `coupon_id` to every customer of the segment as of now, in the background
    (CouponBatchWorkflow); the answer is the batch, running. With an `Idempotency-Key` the
    same key answers the batch it started (a double submit issues no second coupon)."""
    if key and (started := await _batch_of_key(w.session, key, segment_id, body.coupon_id)):
        return started
    segment = await _segment(w.session, segment_id, lock=True)
    if segment.archived_at is not None:
        raise conflict(f"segment {segment.name} is archived", reason="segment_archived")
    coupon = await w.session.get(Coupon, body.coupon_id)
    if coupon is None:
        raise not_found("coupon", body.coupon_id)
    if not coupon.active:
        raise conflict(
            f"coupon {coupon.code} is not active",
            field="coupon_id",
            reason="coupon_inactive",
            coupon=coupon.code,
        )
    as_of = datetime.now(UTC)
    total = await segments.count_members(w.session, segments.rules_of(segment), as_of)
    batch = CouponBatch(
        segment_id=segment.id,
        coupon_id=coupon.id,
        rules=segment.rules,  # its own copy: an edit of the segment does not move it
        status="running",
        as_of=as_of,
        total=total,
        issued=0,
        cursor=0,
        created_by=w.actor,
        idempotency_key=key,
    )
    try:
        async with w.session.begin_nested():  # the same key's other request may be first
            w.session.add(batch)
            await w.session.flush()
    except IntegrityError:
        if key and (started := await _batch_of_key(w.session, key, segment_id, coupon.id)):
            return started
        raise
    await w.commit("coupon_batch.start", "coupon_batch", batch.id, {"coupon": coupon.code})
    workflow_id = coupon_batch_id(batch.id)
    await answer(
        deps.require_temporal().start_workflow(
            CouponBatchWorkflow.run,
            CouponBatchInput(batch_id=batch.id, chunk=deps.coupon_batch_chunk),
            id=workflow_id,
            task_queue=deps.task_queue,
        ),
        kind="coupon batch",
        ident=workflow_id,
    )
    await w.session.refresh(batch)
    shown = CouponBatchPublic.model_validate(batch)
    await w.session.commit()
    return shown


@router.get("/coupon-batches", dependencies=[Read])
async def list_coupon_batches(
    session: Session,
    paging: Paging,
    segment_id: Annotated[IdParam | None, Query()] = None,
) -> CouponBatchesPublic:
    query = select(CouponBatch).order_by(CouponBatch.id.desc())
    if segment_id is not None:
        query = query.where(CouponBatch.segment_id == segment_id)
    rows, count = await fetch_page(session, query, paging)
    return CouponBatchesPublic(
        data=[CouponBatchPublic.model_validate(r) for r in rows], count=count
    )


@router.get("/coupon-batches/{batch_id}", dependencies=[Read])
async def get_coupon_batch(batch_id: IdParam, session: Session) -> CouponBatchPublic:
    """The batch's progress: `issued` of `total`, `status` done when every chunk is in."""
    batch = await session.get(CouponBatch, batch_id, populate_existing=True)
    if batch is None:
        raise not_found("coupon batch", batch_id)
    return CouponBatchPublic.model_validate(batch)
