"""Segments by rules over orders (DESIGN §6.7) and coupons issued to a segment by a batch:
who is in (paid at least so much in so many days, no paid order in so many days), the batch's
progress, and one coupon per customer and batch."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
from sqlalchemy import func, select, update

from models.db import AuditEntry, CouponBatch, CustomerCoupon
from services import points, segments
from tests.support.members import a_coupon, batch_done, past_order, upsert
from tests.support.order_api import problem, staff
from tests.support.stack import Stack

BIG = {"kind": "paid_at_least", "min_fen": 50_000, "days": 90}  # ¥500 in 90 days
DORMANT = {"kind": "no_order_in", "days": 180}


async def people(stack: Stack, api: httpx.AsyncClient) -> dict[str, int]:
    """Five customers of the demo storefront and their orders (ids by name)."""
    ids = {}
    for key, name in enumerate(("amy", "bob", "cat", "dan", "eve"), start=601):
        ids[name] = (await upsert(api, key, name, f"1390000{key:04d}"))["id"]
    await past_order(stack, "SO-A-1", 601, days_ago=10, paid_fen=60_000)  # amy: ¥600 lately
    await past_order(stack, "SO-B-1", 602, days_ago=20, paid_fen=30_000)  # bob: ¥300 lately
    await past_order(stack, "SO-B-2", 602, days_ago=100, paid_fen=30_000)  # ... and ¥300 before
    await past_order(stack, "SO-B-3", 602, days_ago=5, paid_fen=40_000, refunded_fen=40_000)
    await past_order(stack, "SO-D-1", 604, days_ago=200, paid_fen=90_000)  # dan: long ago
    await past_order(stack, "SO-E-1", 605, days_ago=3, paid_fen=0, status="cancelled")  # unpaid
    return ids  # cat has no orders at all


async def members(api: httpx.AsyncClient, segment_id: int, headers: dict[str, str]) -> set[int]:
    answer = await api.get(f"/v1/segments/{segment_id}/customers", headers=headers)
    assert answer.status_code == 200, answer.text
    return {c["id"] for c in answer.json()["data"]}


async def test_segments_choose_customers_by_their_orders(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    ids = await people(stack, api)
    ops = await staff(api, "ops")

    big = await api.post("/v1/segments", json={"name": "大客户", "rules": [BIG]}, headers=ops)
    dormant = await api.post("/v1/segments", json={"name": "沉睡", "rules": [DORMANT]}, headers=ops)
    both = await api.post(
        "/v1/segments",
        json={"name": "沉睡且不花钱", "rules": [DORMANT, {**BIG, "min_fen": 0}]},
        headers=ops,
    )

    for made in (big, dormant, both):
        assert made.status_code == 201, made.text
    assert await members(api, big.json()["id"], ops) == {ids["amy"]}  # bob: ¥300 net in 90 days
    assert await members(api, dormant.json()["id"], ops) == {ids["cat"], ids["dan"], ids["eve"]}
    assert await members(api, both.json()["id"], ops) == {ids["cat"], ids["dan"], ids["eve"]}
    shown = (await api.get(f"/v1/segments/{big.json()['id']}", headers=ops)).json()
    assert (shown["name"], shown["members"], shown["rules"]) == ("大客户", 1, [BIG])
    listed = (await api.get("/v1/segments", headers=ops)).json()
    assert [s["name"] for s in listed["data"]] == ["沉睡且不花钱", "沉睡", "大客户"]
    async with stack.sessions() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.object_type == "segment")
            )
        ).all()
    assert actions == ["segment.create"] * 3


async def test_segment_rules_are_checked(stack: Stack, api: httpx.AsyncClient) -> None:
    ops = await staff(api, "ops")
    for rules, field in (
        # a level rule names the level by its id (GET /v1/loyalty/settings)
        ([{"kind": "level_at_least", "level": 3}], "rules.0.level_at_least.level_id"),
        ([{"kind": "level_at_least", "level_id": 999_999}], "rules"),  # no such level
        ([{"kind": "no_order_in", "days": 0}], "rules.0.no_order_in.days"),
        ([{"kind": "paid_at_least", "min_fen": 1.5, "days": 9}], "rules.0.paid_at_least.min_fen"),
        ([], "rules"),
    ):
        answer = await api.post("/v1/segments", json={"name": "x", "rules": rules}, headers=ops)
        assert field in [e["field"] for e in problem(answer, 422)["errors"]], answer.text
    made = await api.post("/v1/segments", json={"name": "同名", "rules": [DORMANT]}, headers=ops)
    assert made.status_code == 201, made.text
    again = await api.post("/v1/segments", json={"name": "同名", "rules": [DORMANT]}, headers=ops)
    assert again.status_code == 409
    cs = await staff(api, "cs")
    assert (
        await api.post("/v1/segments", json={"name": "y", "rules": [DORMANT]}, headers=cs)
    ).status_code == 403
    assert (await api.get("/v1/segments", headers=cs)).status_code == 200
    assert (await api.get("/v1/segments/999", headers=cs)).status_code == 404


async def test_a_coupon_batch_gives_each_member_one_coupon_and_shows_its_progress(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    ids = await people(stack, api)
    coupon = await a_coupon(stack, "COMEBACK")
    ops = await staff(api, "ops")
    segment = (
        await api.post("/v1/segments", json={"name": "沉睡", "rules": [DORMANT]}, headers=ops)
    ).json()
    path = f"/v1/segments/{segment['id']}/coupon-batches"

    started = await api.post(path, json={"coupon_id": coupon}, headers=ops)

    assert started.status_code == 201, started.text
    batch = started.json()
    assert (batch["total"], batch["coupon_id"]) == (3, coupon)
    done = await batch_done(api, batch["id"], ops)
    assert (done["issued"], done["total"], done["status"]) == (3, 3, "done")
    assert done["finished_at"] is not None
    async with stack.sessions() as session:
        given = (
            await session.execute(
                select(CustomerCoupon.customer_id, CustomerCoupon.coupon_id).where(
                    CustomerCoupon.batch_id == batch["id"]
                )
            )
        ).all()
    assert sorted(given) == sorted((ids[n], coupon) for n in ("cat", "dan", "eve"))

    # A second batch is another issue: once more per customer, never twice within a batch.
    second = (await api.post(path, json={"coupon_id": coupon}, headers=ops)).json()
    await batch_done(api, second["id"], ops)
    async with stack.sessions() as session:
        per_batch = (
            await session.execute(
                select(
                    CustomerCoupon.batch_id,
                    func.count(),
                    func.count(CustomerCoupon.customer_id.distinct()),
                )
                .group_by(CustomerCoupon.batch_id)
                .order_by(CustomerCoupon.batch_id)
            )
        ).all()
    assert per_batch == [(batch["id"], 3, 3), (second["id"], 3, 3)]
    listed = (
        await api.get("/v1/coupon-batches", params={"segment_id": segment["id"]}, headers=ops)
    ).json()
    assert [b["id"] for b in listed["data"]] == [second["id"], batch["id"]]

    # With an Idempotency-Key a repeat, even at the same moment, answers the batch it started.
    keyed = {**ops, "Idempotency-Key": "issue-once-1"}
    twice = await asyncio.gather(
        *(api.post(path, json={"coupon_id": coupon}, headers=keyed) for _ in range(2))
    )
    assert [a.status_code for a in twice] == [201, 201], [a.text for a in twice]
    assert twice[0].json()["id"] == twice[1].json()["id"]
    later = await api.post(path, json={"coupon_id": coupon}, headers=keyed)
    assert later.status_code == 201 and later.json()["id"] == twice[0].json()["id"]
    await batch_done(api, later.json()["id"], ops)
    async with stack.sessions() as session:
        batches = await session.scalar(
            select(func.count())
            .select_from(CouponBatch)
            .where(CouponBatch.segment_id == segment["id"])
        )
        keyed_coupons = await session.scalar(
            select(func.count()).where(CustomerCoupon.batch_id == later.json()["id"])
        )
    assert (batches, keyed_coupons) == (3, 3)  # one batch for the key, one coupon each
    other = await api.post(path, json={"coupon_id": coupon + 1}, headers=keyed)
    assert other.status_code == 409, other.text  # the key is that batch's, not another's

    assert (await api.post(path, json={"coupon_id": 99999}, headers=ops)).status_code == 404
    cs = await staff(api, "cs")
    assert (await api.post(path, json={"coupon_id": coupon}, headers=cs)).status_code == 403
    assert (await api.get("/v1/coupon-batches/99999", headers=ops)).status_code == 404


async def test_a_segment_of_level_three_and_above(stack: Stack, api: httpx.AsyncClient) -> None:
    """Level ≥ 3: the customers whose growth value reaches the third level's threshold (the
    growth booked by the instant measured), by the level's id, in the API and its batches."""
    ops = await staff(api, "ops")
    base = 10**11  # above any growth the other tests' customers reach
    levels = [
        {"code": f"LV{n}", "name": f"V{n}", "growth_threshold": base + n * 1_000}
        for n in (1, 2, 3, 4)
    ]
    made = await api.put("/v1/loyalty/settings/levels", headers=ops, json={"levels": levels})
    assert made.status_code == 200, made.text
    by_code = {lv["code"]: lv["id"] for lv in made.json()["levels"]}
    ids = {}
    growths = {"lv2": base + 2_500, "lv3": base + 3_000, "lv4": base + 4_200, "none": 0}
    for key, (name, growth) in enumerate(growths.items(), start=651):
        ids[name] = (await upsert(api, key, name, f"1391000{key:04d}"))["id"]
        async with stack.sessions() as session:
            if growth:
                await points.book(session, ids[name], "earn", 1, f"lv:{key}", growth=growth)
            await session.commit()
    rules = [{"kind": "level_at_least", "level_id": by_code["LV3"]}]
    segment = await api.post("/v1/segments", json={"name": "三级以上", "rules": rules},
                             headers=ops)  # fmt: skip
    assert segment.status_code == 201, segment.text
    assert segment.json()["rules"] == rules
    assert await members(api, segment.json()["id"], ops) == {ids["lv3"], ids["lv4"]}
    coupon = await a_coupon(stack, "LV3UP")
    path = f"/v1/segments/{segment.json()['id']}/coupon-batches"
    started = await api.post(path, json={"coupon_id": coupon}, headers=ops)
    assert started.status_code == 201, started.text
    assert (await batch_done(api, started.json()["id"], ops))["issued"] == 2
    async with stack.sessions() as session:
        given = set(
            await session.scalars(
                select(CustomerCoupon.customer_id).where(CustomerCoupon.coupon_id == coupon)
            )
        )
    assert given == {ids["lv3"], ids["lv4"]}

    # LV3 cannot go while the segment names it (the segment would match nobody, silently);
    # LV1 can, and LV3 stays as it was.
    without_lv3 = [lv for lv in levels if lv["code"] != "LV3"]
    refused = await api.put(
        "/v1/loyalty/settings/levels", headers=ops, json={"levels": without_lv3}
    )
    assert problem(refused, 409)["errors"] == [
        {"reason": "level_in_use", "level": "LV3", "segment": "三级以上"}
    ]
    assert "level LV3 is named by segment 三级以上" in refused.json()["detail"]
    kept = await api.put("/v1/loyalty/settings/levels", headers=ops, json={"levels": levels[1:]})
    assert kept.status_code == 200, kept.text
    assert {lv["code"]: lv["id"] for lv in kept.json()["levels"]} == {
        code: by_code[code] for code in ("LV2", "LV3", "LV4")
    }
    assert await members(api, segment.json()["id"], ops) == {ids["lv3"], ids["lv4"]}

    # Archived, the segment no longer holds LV3: it goes.
    archived = await api.post(f"/v1/segments/{segment.json()['id']}/archive", headers=ops)
    assert archived.status_code == 200, archived.text
    gone = await api.put("/v1/loyalty/settings/levels", headers=ops, json={"levels": without_lv3})
    assert gone.status_code == 200, gone.text
    assert "LV3" not in [lv["code"] for lv in gone.json()["levels"]]


async def test_an_archived_segment_is_not_listed_or_issued_to_and_keeps_its_batches(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    ops = await staff(api, "ops")
    made = await api.post("/v1/segments", json={"name": "沉睡", "rules": [DORMANT]}, headers=ops)
    assert made.status_code == 201, made.text
    segment = made.json()
    coupon = await a_coupon(stack, "ARCHIVE")
    async with stack.sessions() as session:  # a batch still running: no archiving under it
        running = CouponBatch(segment_id=segment["id"], coupon_id=coupon, status="running",
                              rules=[DORMANT],
                              as_of=datetime.now(UTC), total=1, issued=0, cursor=0,
                              created_by="test")  # fmt: skip
        session.add(running)
        await session.commit()
    path = f"/v1/segments/{segment['id']}/archive"
    refused = problem(await api.post(path, headers=ops), 409)
    assert refused["errors"] == [{"reason": "batch_running", "batch_id": running.id}]
    async with stack.sessions() as session:
        await session.execute(update(CouponBatch).values(status="done"))
        await session.commit()

    cs = await staff(api, "cs")
    assert (await api.post(path, headers=cs)).status_code == 403
    archived = await api.post(path, headers=ops)
    assert archived.status_code == 200, archived.text
    at = archived.json()["archived_at"]
    assert at is not None
    again = await api.post(path, headers=ops)  # archived already: answered as it is
    assert again.status_code == 200 and again.json()["archived_at"] == at

    listed = (await api.get("/v1/segments", headers=ops)).json()
    assert segment["id"] not in [s["id"] for s in listed["data"]]
    shelved = (await api.get("/v1/segments", params={"archived": "true"}, headers=ops)).json()
    assert [s["id"] for s in shelved["data"]] == [segment["id"]]
    shown = (await api.get(f"/v1/segments/{segment['id']}", headers=ops)).json()
    assert shown["archived_at"] == at
    batches = (await api.get("/v1/coupon-batches", params={"segment_id": segment["id"]},
                             headers=ops)).json()  # fmt: skip
    assert [b["id"] for b in batches["data"]] == [running.id]  # kept with it
    issue = f"/v1/segments/{segment['id']}/coupon-batches"
    refused = problem(await api.post(issue, json={"coupon_id": coupon}, headers=ops), 409)
    assert refused["errors"] == [{"reason": "segment_archived"}]
    async with stack.sessions() as session:
        rows = await session.scalars(
            select(AuditEntry.action).where(AuditEntry.object_type == "segment")
        )
        assert list(rows).count("segment.archive") == 1


async def test_an_edited_segment_counts_by_its_new_rules_and_its_batches_keep_theirs(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    ids = await people(stack, api)
    ops = await staff(api, "ops")
    coupon = await a_coupon(stack, "EDITED")
    made = await api.post("/v1/segments", json={"name": "大客户", "rules": [BIG]}, headers=ops)
    assert made.status_code == 201, made.text
    segment = made.json()
    path = f"/v1/segments/{segment['id']}"
    first = (await api.post(f"{path}/coupon-batches", json={"coupon_id": coupon},
                            headers=ops)).json()  # fmt: skip
    assert (await batch_done(api, first["id"], ops))["issued"] == 1  # amy

    lower = {**BIG, "min_fen": 30_000}  # ¥300 in 90 days: bob too
    edited = await api.put(path, json={"name": "中大客户", "rules": [lower]}, headers=ops)

    assert edited.status_code == 200, edited.text
    assert (edited.json()["name"], edited.json()["rules"]) == ("中大客户", [lower])
    assert edited.json()["updated_at"] > segment["updated_at"]
    shown = (await api.get(path, headers=ops)).json()  # the very next read
    assert (shown["name"], shown["rules"], shown["members"]) == ("中大客户", [lower], 2)
    assert await members(api, segment["id"], ops) == {ids["amy"], ids["bob"]}
    # The finished batch keeps the rules it was issued under; the next one counts by the new.
    batch = (await api.get(f"/v1/coupon-batches/{first['id']}", headers=ops)).json()
    assert (batch["rules"], batch["total"]) == ([BIG], 1)
    second = (await api.post(f"{path}/coupon-batches", json={"coupon_id": coupon},
                             headers=ops)).json()  # fmt: skip
    assert (second["rules"], second["total"]) == ([lower], 2)
    assert (await batch_done(api, second["id"], ops))["issued"] == 2

    # A batch running while its segment is edited goes on with its own rules (every chunk
    # reads them): here one started under "dormant" issues to the dormant, not to the new set.
    async with stack.sessions() as session:
        running = CouponBatch(segment_id=segment["id"], coupon_id=coupon, rules=[DORMANT],
                              status="running", as_of=datetime.now(UTC), total=3,
                              created_by="test")  # fmt: skip
        session.add(running)
        await session.flush()
        chunk = await segments.issue_chunk(session, running.id, 0, 100)
        given = await session.scalars(
            select(CustomerCoupon.customer_id).where(CustomerCoupon.batch_id == running.id)
        )
        assert (chunk.issued, set(given)) == (3, {ids["cat"], ids["dan"], ids["eve"]})
        await session.rollback()

    async with stack.sessions() as session:
        [entry] = (
            await session.scalars(select(AuditEntry).where(AuditEntry.action == "segment.update"))
        ).all()
    assert entry.detail == {
        "before": {"name": "大客户", "rules": [BIG]},
        "after": {"name": "中大客户", "rules": [lower]},
    }
    again = await api.put(path, json={"name": "中大客户", "rules": [lower]}, headers=ops)
    assert again.status_code == 200  # nothing changed: answered as it is, no audit row
    async with stack.sessions() as session:
        updates = await session.scalar(
            select(func.count()).where(AuditEntry.action == "segment.update")
        )
    assert updates == 1


async def test_a_segment_edit_is_checked_like_a_new_one(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    ops = await staff(api, "ops")
    one = (await api.post("/v1/segments", json={"name": "甲", "rules": [BIG]}, headers=ops)).json()
    other = await api.post("/v1/segments", json={"name": "乙", "rules": [DORMANT]}, headers=ops)
    path = f"/v1/segments/{one['id']}"

    clash = problem(await api.put(path, json={"name": "乙", "rules": [BIG]}, headers=ops), 409)
    assert [e["field"] for e in clash["errors"]] == ["name"]
    for rules, field in (
        ([{"kind": "level_at_least", "level_id": 999_999}], "rules"),  # no such level
        ([{"kind": "no_order_in", "days": 0}], "rules.0.no_order_in.days"),
        ([], "rules"),
    ):
        answer = await api.put(path, json={"name": "甲", "rules": rules}, headers=ops)
        assert field in [e["field"] for e in problem(answer, 422)["errors"]], answer.text
    cs = await staff(api, "cs")
    assert (await api.put(path, json={"name": "丙", "rules": [BIG]}, headers=cs)).status_code == 403
    missing = await api.put("/v1/segments/999999", json={"name": "丙", "rules": [BIG]}, headers=ops)
    assert missing.status_code == 404
    assert (await api.get(path, headers=ops)).json()["rules"] == [BIG]  # nothing refused moved

    archived = await api.post(f"/v1/segments/{other.json()['id']}/archive", headers=ops)
    assert archived.status_code == 200, archived.text
    shelved = f"/v1/segments/{other.json()['id']}"
    refused = problem(await api.put(shelved, json={"name": "乙", "rules": [BIG]}, headers=ops), 409)
    assert refused["errors"] == [{"reason": "segment_archived"}]
