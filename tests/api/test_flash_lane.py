"""The flash sale's refusal lane (api/flash_lane.py): a refused buyer is answered by one
statement, with the very answer, audit row, request id and metrics series the route gives; what
it does not refuse the route answers as before; the statement commits by itself, without
waiting for the disk."""

from __future__ import annotations

import asyncio
import hashlib
import re
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy import func, make_url, select, text
from sqlalchemy.exc import DBAPIError

from api.deps import AppDeps
from api.flash_lane import place_order_route, route_permission
from api.main import create_app
from core import tracing
from core.db import Alone, make_engine, make_session_factory
from core.settings import Settings
from core.sql_spans import STATEMENT_MAX
from models.db import ApiKey, AuditEntry, FlashClaim
from models.domain.access import PERMISSIONS
from services import flash_gate
from tests.api.test_flash_sales import one_unit_sold
from tests.support.flash_sales import create_flash_sale, flash_sale, wait_flash_status
from tests.support.order_api import Json, order_body, problem, skus_in, staff, warehouse_id
from tests.support.orders import SHOP, known_customer
from tests.support.stack import TOKEN_SECRET, Stack
from workers.seed import DEMO_DEVICE_KEYS, DEMO_STOREFRONT_KEY

COLUMNS = (AuditEntry.actor_type, AuditEntry.actor_id, AuditEntry.actor_name, AuditEntry.roles,
           AuditEntry.action, AuditEntry.method, AuditEntry.path, AuditEntry.object_type,
           AuditEntry.object_id, AuditEntry.status_code, AuditEntry.client_ip,
           AuditEntry.detail)  # fmt: skip


def flash_body(sale_id: int, sku: int, customer_id: int, key: str, **extra: Any) -> dict[str, Any]:
    lines = extra.pop("lines", [{"sku_id": sku, "quantity": 1}])
    return order_body(lines, key=key, customer_id=customer_id, flash_sale_id=sale_id, **extra)


async def audit_rows(stack: Stack, sale_id: int) -> list[tuple[Any, ...]]:
    async with stack.sessions() as session:
        rows = await session.execute(
            select(*COLUMNS)
            .where(AuditEntry.detail["flash_sale_id"].as_integer() == sale_id)
            .order_by(AuditEntry.id)
        )
    return [tuple(row) for row in rows]


async def storefront(stack: Stack) -> tuple[str, str]:
    """The demo storefront key's id (as the audit row's actor_id) and name."""
    async with stack.sessions() as session:
        key = (
            await session.execute(
                select(ApiKey.id, ApiKey.name).where(
                    ApiKey.prefix == DEMO_STOREFRONT_KEY.split("_")[1]
                )
            )
        ).one()
    return str(key.id), key.name


async def refusals_counted(api: httpx.AsyncClient) -> float:
    scraped = await api.get("/metrics")
    assert scraped.status_code == 200, scraped.text
    found = re.search(
        r'^houtai_http_requests_total\{method="POST",route="/v1/orders",status="409"\} (\S+)$',
        scraped.text,
        re.MULTILINE,
    )
    return float(found.group(1)) if found else 0.0


def counting_looks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The route's look (services/flash_gate.py `look`), counted: the lane never calls it."""
    calls: list[int] = []
    route_look = flash_gate.look

    async def counted(*args: Any, **kwargs: Any) -> flash_gate.Look:
        calls.append(1)
        return await route_look(*args, **kwargs)

    monkeypatch.setattr(flash_gate, "look", counted)
    return calls


async def test_the_lane_refuses_with_the_routes_answer_audit_row_request_id_and_metrics(
    stack: Stack, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    sale, sku, _ = await one_unit_sold(stack, api, customer_id=1401)
    await known_customer(api, 1402)
    looks = counting_looks(monkeypatch)
    counted = await refusals_counted(api)

    lane = await api.post(
        "/v1/orders",
        json=flash_body(sale["id"], sku, 1402, "lane-1402"),
        headers=SHOP | {"X-Request-Id": "lane-refusal-1"},
    )
    assert looks == []  # answered before the route: its look never ran
    assert await refusals_counted(api) == counted + 1  # POST /v1/orders 409, as the route's
    assert lane.headers["x-request-id"] == "lane-refusal-1"
    # The same key as a bearer credential: the lane leaves it to the route, which refuses.
    route = await api.post(
        "/v1/orders",
        json=flash_body(sale["id"], sku, 1402, "route-1402"),
        headers={"Authorization": f"Bearer {DEMO_STOREFRONT_KEY}"},
    )
    assert looks == [1]
    assert await refusals_counted(api) == counted + 2

    assert problem(lane, 409) == problem(route, 409) == {
        "type": "/problems/conflict", "title": "Conflict", "status": 409,
        "detail": f"flash sale {sale['id']} is sold out",
        "errors": [{"reason": "sold_out", "flash_sale_id": sale["id"]}],
    }  # fmt: skip
    assert lane.headers["content-type"] == route.headers["content-type"]
    lane_row, route_row = await audit_rows(stack, sale["id"])
    assert lane_row == route_row
    shop_id, shop_name = await storefront(stack)
    assert lane_row == (
        "api_key", shop_id, shop_name, ["storefront"], "POST /v1/orders", "POST", "/v1/orders",
        "", "", 409, "127.0.0.1", {"flash_sale_id": sale["id"], "reason": "sold_out"},
    )  # fmt: skip

    # The winner again: over the limit, from the lane too.
    again = await api.post(
        "/v1/orders", json=flash_body(sale["id"], sku, 1401, "lane-1401-again"), headers=SHOP
    )
    assert problem(again, 409)["errors"] == [{"reason": "over_limit", "flash_sale_id": sale["id"]}]
    assert looks == [1]


async def test_what_the_lane_does_not_refuse_the_route_answers_as_before(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    sale, sku, _ = await one_unit_sold(stack, api, customer_id=1501)
    await known_customer(api, 1502)
    body = flash_body(sale["id"], sku, 1502, "pass-1502")

    wrong_key = DEMO_STOREFRONT_KEY[:-3] + "xyz"  # its prefix, another secret
    unauthenticated = await api.post("/v1/orders", json=body, headers={"X-API-Key": wrong_key})
    assert problem(unauthenticated, 401)["detail"] == "invalid or expired credentials"
    device = await api.post(
        "/v1/orders", json=body, headers={"X-API-Key": DEMO_DEVICE_KEYS["SH01"]}
    )
    assert problem(device, 403)["detail"] == "permission orders.create is required"
    unknown = await api.post(
        "/v1/orders", json=flash_body(sale["id"], sku, 1599, "pass-1599"), headers=SHOP
    )
    assert problem(unknown, 422)["errors"][0]["field"] == "customer_id"
    two_lines = flash_body(
        sale["id"], sku, 1502, "pass-2", lines=[{"sku_id": sku, "quantity": 1}] * 2
    )
    assert (
        problem(await api.post("/v1/orders", json=two_lines, headers=SHOP), 422)["errors"][0][
            "field"
        ]
        == "lines"
    )
    plain = await api.post(
        "/v1/orders",
        content=httpx.Request("POST", "/", json=body).content,
        headers=SHOP | {"Content-Type": "text/plain"},
    )
    assert problem(plain, 422)["status"] == 422  # FastAPI reads no JSON from text/plain
    async with stack.sessions() as session:
        written = (
            await session.execute(
                select(AuditEntry.actor_type, AuditEntry.status_code)
                .where(AuditEntry.path == "/v1/orders", AuditEntry.status_code.in_((401, 403)))
                .order_by(AuditEntry.id)
            )
        ).all()
    assert [tuple(r) for r in written][-2:] == [("anonymous", 401), ("api_key", 403)]
    assert await audit_rows(stack, sale["id"]) == []  # none of them is a flash refusal

    # A body the route refuses first (a presale too) is the route's: 422, not the sale's 409.
    presale = flash_body(sale["id"], sku, 1502, "pass-3", presale_id=1)
    assert (
        problem(await api.post("/v1/orders", json=presale, headers=SHOP), 422)["errors"][0]["field"]
        == "lines"
    )


def test_the_lane_reads_the_routes_own_permission() -> None:
    route = place_order_route()
    assert (route.path, route.methods) == ("/v1/orders", {"POST"})
    assert route_permission(route) == "orders.create"
    assert PERMISSIONS["orders.create"] == frozenset({"storefront"})


async def test_the_one_statement_refusal_commits_by_itself_without_waiting_for_the_disk(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    """No BEGIN, no COMMIT: the statement is its own transaction, so its audit row is there for
    any other session at once; synchronous commit is off for that transaction only (the
    connection's own setting is as it was), and only when it refused."""
    sale, sku, _ = await one_unit_sold(stack, api, customer_id=1601)
    engine = make_engine(stack.database_url, connections=1)  # one connection: the same each time
    try:
        async with engine.connect() as connection:  # the connection's own setting: on
            await connection.execute(text("SET synchronous_commit TO on"))
            await connection.commit()
        row = {"action": "POST /v1/orders", "method": "POST", "path": "/v1/orders",
               "object_type": "", "object_id": "", "status_code": 409, "client_ip": "10.0.0.9",
               "detail": "{}"}  # fmt: skip
        found = {}
        for client_key, customer, granting in (
            ("flash-1601", 1601, {"storefront"}),  # its own order: the gate answers it
            ("lane-1601-again", 1601, {"storefront"}),  # over the limit: refused
            ("lane-1601-admin", 1601, {"admin"}),  # a key whose role may not place orders
            ("lane-1699", 1699, {"storefront"}),  # a customer the storefront does not know
        ):
            seen = await flash_gate.claim_as_key(
                engine, today=date.today(),
                prefix=DEMO_STOREFRONT_KEY.split("_")[1],
                key_hash=hashlib.sha256(DEMO_STOREFRONT_KEY.encode()).hexdigest(),
                granting=frozenset(granting), needs_worker=False, flash_sale_id=sale["id"],
                client_key=client_key, customer_id=customer, sku_id=sku, quantity=1,
                refusal_audit=row,
            )  # fmt: skip
            async with engine.connect() as connection:
                mode = await connection.scalar(text("SHOW synchronous_commit"))
            found[client_key] = (seen.authenticated, seen.permitted, seen.known, seen.refusal,
                                 seen.audited, seen.quick_commit, mode)  # fmt: skip
        wrong = await flash_gate.claim_as_key(
            engine, today=date.today(), prefix=DEMO_STOREFRONT_KEY.split("_")[1], key_hash="0" * 64,
            granting=frozenset({"storefront"}), needs_worker=False, flash_sale_id=sale["id"],
            client_key="lane-wrong", customer_id=1601, sku_id=sku, quantity=1, refusal_audit=row,
        )  # fmt: skip
    finally:
        await engine.dispose()
    assert found == {
        "flash-1601": (True, True, True, None, False, None, "on"),
        "lane-1601-again": (True, True, True, "over_limit", True, "off", "on"),
        "lane-1601-admin": (True, False, True, "over_limit", False, None, "on"),
        "lane-1699": (True, True, False, "sold_out", False, None, "on"),
    }
    assert (wrong.authenticated, wrong.known, wrong.audited) == (False, False, False)
    shop_id, shop_name = await storefront(stack)
    assert await audit_rows(stack, sale["id"]) == [  # committed: another session sees it
        ("api_key", shop_id, shop_name, ["storefront"], "POST /v1/orders", "POST", "/v1/orders",
         "", "", 409, "10.0.0.9", {"flash_sale_id": sale["id"], "reason": "over_limit"}),
    ]  # fmt: skip


async def test_a_statement_alone_commits_by_itself_and_a_connection_cut_off_is_not_reused(
    database_url: str,
) -> None:
    """core/db.py `Alone`: no transaction around the statement (another session sees its row at
    once); a statement the server refuses leaves its connection in the pool; one cut off in the
    middle (here a timeout) does not hand its connection to the next caller."""
    engine = make_engine(database_url, connections=1)  # one connection: the same each time
    backend = Alone(text("SELECT pg_backend_pid() AS pid"))
    try:
        first = (await backend.one(engine, {}))["pid"]
        written = await Alone(
            text(
                "INSERT INTO audit_log (actor_type, actor_id, actor_name, roles, action, method,"
                " path, object_type, object_id, status_code, client_ip, detail) VALUES"
                " ('system', '', '', '{}', :action, 'POST', '/alone', '', '', 200, '', '{}')"
                " RETURNING id"
            )
        ).one(engine, {"action": "alone"})
        async with make_session_factory(engine)() as session:
            seen = await session.scalar(
                select(AuditEntry.action).where(AuditEntry.id == written["id"])
            )
        assert seen == "alone"
        with pytest.raises(asyncpg.DivisionByZeroError):
            await Alone(text("SELECT 1 / :zero AS x")).one(engine, {"zero": 0})
        assert (await backend.one(engine, {}))["pid"] == first  # refused: kept
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(Alone(text("SELECT pg_sleep(5) AS x")).one(engine, {}), 0.3)
        assert (await backend.one(engine, {}))["pid"] != first  # cut off: a new one
    finally:
        await engine.dispose()


async def test_a_statement_alone_is_traced_like_the_engines_statements(database_url: str) -> None:
    """A traced engine (core/tracing.py `instrument_engine`) gives a statement run alone the
    span its SQLAlchemy statements get: a client span, a child of the span current then, with
    the text (placeholders, never values); a refused one failed. Untraced: no span at all."""
    exported = InMemorySpanExporter()
    traced = tracing.tracing_for(Settings(), "api", exporter=exported)
    assert traced.provider is not None
    engine = make_engine(database_url, connections=1)
    plain = make_engine(database_url, connections=1)
    tracing.instrument_engine(engine, traced)
    statement = Alone(text("SELECT CAST(:secret AS text) AS echoed"))
    try:
        with traced.provider.get_tracer("t").start_as_current_span("request") as request:
            assert (await statement.one(engine, {"secret": "13800000000"}))["echoed"]
            with pytest.raises(asyncpg.DivisionByZeroError):
                await Alone(text("SELECT 1 / :zero AS x")).one(engine, {"zero": 0})
            await statement.one(plain, {"secret": "untraced"})
        traced.provider.force_flush()
        spans = [s for s in exported.get_finished_spans() if s.name != "request"]
        database = make_url(database_url).database
        # two, named as the engine's own: the untraced engine's statement made none
        assert [s.name for s in spans] == [f"SELECT {database}"] * 2
        ok, refused = spans
        assert ok.kind == SpanKind.CLIENT and ok.parent is not None
        assert ok.parent.span_id == request.get_span_context().span_id
        assert ok.attributes is not None and ok.attributes["db.statement"] == statement.sql
        assert "13800000000" not in str(ok.attributes)
        assert ok.status.status_code != StatusCode.ERROR
        assert refused.status.status_code == StatusCode.ERROR
    finally:
        traced.shutdown()
        await engine.dispose()
        await plain.dispose()


async def test_a_traced_api_refuses_in_the_lane_and_the_request_shows_its_statement(
    stack: Stack, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tracing on, a refused buyer still takes the lane (the route's look never runs), and the
    request's trace shows the lane's one statement under the request's span."""
    sale, sku, _ = await one_unit_sold(stack, api, customer_id=1461)
    await known_customer(api, 1462)
    looks = counting_looks(monkeypatch)
    exported = InMemorySpanExporter()
    traced = tracing.tracing_for(Settings(), "api", exporter=exported)
    stacks_engine = stack.sessions.kw["bind"]  # the stack's database, on an engine of its own
    engine = make_engine(stacks_engine.url.render_as_string(hide_password=False), connections=2)
    tracing.instrument_engine(engine, traced)
    deps = AppDeps(
        engine=engine,
        session_factory=make_session_factory(engine),
        token_secret=TOKEN_SECRET,
        temporal=stack.client,
        task_queue=stack.task_queue,
    )
    app = create_app(deps, tracing=traced)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 123))
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://houtai.test") as client:
            refused = await client.post(
                "/v1/orders", json=flash_body(sale["id"], sku, 1462, "traced-1462"), headers=SHOP
            )
        assert problem(refused, 409)["errors"] == [
            {"reason": "sold_out", "flash_sale_id": sale["id"]}
        ]
        assert looks == []  # the lane answered: the route's look never ran
        assert traced.provider is not None
        traced.provider.force_flush()
        spans = exported.get_finished_spans()
        [request] = [s for s in spans if s.kind == SpanKind.SERVER]
        statements = [s for s in spans if s.kind == SpanKind.CLIENT]
        assert [s.attributes["db.statement"] for s in statements if s.attributes] == [
            flash_gate.CLAIM_AS_KEY.sql[:STATEMENT_MAX]
        ]  # one statement, the lane's
        [statement] = statements
        assert statement.context is not None and request.context is not None
        assert statement.context.trace_id == request.context.trace_id
    finally:
        traced.shutdown()
        await engine.dispose()


def counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Calls of the route's `flash_gate.<name>` (its look, its gate's claim), counted."""
    calls: list[int] = []
    routes = getattr(flash_gate, name)

    async def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return await routes(*args, **kwargs)

    monkeypatch.setattr(flash_gate, name, counted)
    return calls


async def open_sale(stack: Stack, api: httpx.AsyncClient, units: int) -> tuple[Json, int]:
    ops = await staff(api, "ops")
    [sku] = await skus_in(stack, "SH01")
    sale = await create_flash_sale(
        api, ops, sku_id=sku, warehouse_id=await warehouse_id(stack, "SH01"), price_fen=1,
        quantity=units, limit=1,
    )  # fmt: skip
    return await wait_flash_status(api, sale["id"], "open", ops), sku


async def test_the_lane_claims_while_units_are_left_and_the_route_places_that_claim(
    stack: Stack, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Units left: the lane's one statement claims the unit (the route's look and gate never
    run) and the route places the order under the claim's number, with its audit row, request
    id and 201; the next buyer is refused by the lane, from the same statement."""
    sale, sku = await open_sale(stack, api, units=1)
    await known_customer(api, 1801)
    await known_customer(api, 1802)
    looks, gates = counting(monkeypatch, "look"), counting(monkeypatch, "claim")

    won = await api.post(
        "/v1/orders",
        json=flash_body(sale["id"], sku, 1801, "lane-claim-1801"),
        headers=SHOP | {"X-Request-Id": "lane-claim-1"},
    )
    assert won.status_code == 201, won.text
    assert won.headers["x-request-id"] == "lane-claim-1"
    order = won.json()
    assert (order["customer_id"], order["lines"][0]["unit_price_fen"]) == (1801, 1)
    assert (looks, gates) == ([], [])  # the lane claimed: the route's gate was passed
    async with stack.sessions() as session:
        claims = (
            await session.execute(
                select(FlashClaim.order_no, FlashClaim.customer_id, FlashClaim.quantity).where(
                    FlashClaim.flash_sale_id == sale["id"]
                )
            )
        ).all()
        numbers = await session.scalar(
            text("SELECT order_no FROM order_numbers WHERE client_order_key = 'lane-claim-1801'")
        )
        placed = await session.scalar(
            select(func.count()).where(
                AuditEntry.action == "order.place", AuditEntry.object_id == order["order_no"]
            )
        )
    assert [tuple(c) for c in claims] == [(order["order_no"], 1801, 1)]
    assert numbers == order["order_no"] and placed == 1

    refused = await api.post(
        "/v1/orders", json=flash_body(sale["id"], sku, 1802, "lane-claim-1802"), headers=SHOP
    )
    assert problem(refused, 409)["errors"] == [{"reason": "sold_out", "flash_sale_id": sale["id"]}]
    resent = await api.post(  # the winner's same request again: its order (the route's gate)
        "/v1/orders", json=flash_body(sale["id"], sku, 1801, "lane-claim-1801"), headers=SHOP
    )
    assert resent.status_code == 201 and resent.json()["order_no"] == order["order_no"]
    assert (looks, gates) == ([1], [1])


async def test_a_gate_failed_by_a_deadlock_runs_again_and_answers(
    stack: Stack, api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lane takes the sale's row before the storefront's key and the route's gate the key
    first: the same key sent at once through both may deadlock, and PostgreSQL fails one. The
    gate failed so runs once more (here: the lane's statement fails, the gate's first claim is
    failed as PostgreSQL fails a deadlock's victim) and the buyer gets the order, not a 500."""
    sale, sku = await open_sale(stack, api, units=1)
    await known_customer(api, 1811)

    async def lane_fails(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the lane's statement failed: the route answers")

    real_claim = flash_gate.claim
    failed: list[int] = []

    async def deadlocked_once(session: Any, **kwargs: Any) -> Any:
        if not failed:
            failed.append(1)
            await session.execute(text("SELECT 1"))  # the transaction has begun, as a claim's
            raise DBAPIError("UPDATE flash_sales ...", {}, DeadlockOrig())
        return await real_claim(session, **kwargs)

    monkeypatch.setattr(flash_gate, "claim_as_key", lane_fails)
    monkeypatch.setattr(flash_gate, "claim", deadlocked_once)
    won = await api.post(
        "/v1/orders", json=flash_body(sale["id"], sku, 1811, "lane-deadlock-1811"), headers=SHOP
    )
    assert won.status_code == 201, won.text
    assert failed == [1]
    async with stack.sessions() as session:
        claimed = await session.scalar(
            select(func.count()).where(FlashClaim.flash_sale_id == sale["id"])
        )
        sold = await session.scalar(
            text("SELECT sold FROM flash_sales WHERE id = :s"), {"s": sale["id"]}
        )
    assert (claimed, sold) == (1, 1)


class DeadlockOrig(Exception):
    """What the asyncpg dialect wraps a deadlock in: its SQLSTATE."""

    sqlstate = "40P01"


async def test_an_opening_rush_through_the_lane_sells_each_unit_once_within_the_limit(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    """Buyers at once while units are left, some of them twice: exactly the units are sold,
    nobody above the limit, every refusal answered 409 with its audit row, no order number
    kept for a refused storefront key."""
    sale, sku = await open_sale(stack, api, units=3)
    customers = [1901 + n for n in range(10)] + [1901, 1902, 1903]
    for customer in set(customers):
        await known_customer(api, customer)
    answers = await asyncio.gather(
        *(
            api.post(
                "/v1/orders",
                json=flash_body(sale["id"], sku, customer, f"rush-{sale['id']}-{n}"),
                headers=SHOP,
            )
            for n, customer in enumerate(customers)
        )
    )
    won = [a.json() for a in answers if a.status_code == 201]
    refused = [problem(a, 409)["errors"][0]["reason"] for a in answers if a.status_code != 201]
    assert len(won) == 3 and len(refused) == 10
    assert set(refused) <= {"sold_out", "over_limit"}
    assert len({o["customer_id"] for o in won}) == 3  # the limit of one, whoever came twice
    async with stack.sessions() as session:
        claimed = await session.scalar(
            select(func.count()).where(
                FlashClaim.flash_sale_id == sale["id"], FlashClaim.status != "released"
            )
        )
        keys = await session.scalar(
            text("SELECT count(*) FROM order_numbers WHERE client_order_key LIKE :k"),
            {"k": f"rush-{sale['id']}-%"},
        )
    assert (claimed, keys) == (3, 3)
    reasons = [row[-1]["reason"] for row in await audit_rows(stack, sale["id"])]
    assert sorted(reasons) == sorted(refused)  # one row per refusal, with its reason
    ops = await staff(api, "ops")
    shown = await flash_sale(api, sale["id"], ops)
    assert (shown["sold"], shown["remaining"]) == (3, 0)


async def test_units_taken_without_a_claim_are_rolled_back_by_the_statement(
    stack: Stack, api: httpx.AsyncClient
) -> None:
    """The same storefront key claimed at that very moment (by another transaction, committed
    while the lane's statement waited for it): the statement had taken the unit but could not
    number the order, so it fails on purpose and keeps nothing; the route then answers."""
    sale, sku = await open_sale(stack, api, units=1)
    await known_customer(api, 2001)
    async with stack.sessions() as session:
        key_id = await session.scalar(
            select(ApiKey.id).where(ApiKey.prefix == DEMO_STOREFRONT_KEY.split("_")[1])
        )
    row = {"action": "POST /v1/orders", "method": "POST", "path": "/v1/orders",
           "object_type": "", "object_id": "", "status_code": 409, "client_ip": "10.0.0.9",
           "detail": "{}"}  # fmt: skip
    engine = make_engine(stack.database_url, connections=2)
    try:
        async with stack.sessions() as holder:  # the key numbered, not yet committed
            await holder.execute(
                text("INSERT INTO order_numbers (order_no, api_key_id, client_order_key) "
                     "VALUES ('SO20260101999999', :key, 'same-2001')"), {"key": key_id},
            )  # fmt: skip
            claiming = asyncio.ensure_future(
                flash_gate.claim_as_key(
                    engine, prefix=DEMO_STOREFRONT_KEY.split("_")[1],
                    key_hash=hashlib.sha256(DEMO_STOREFRONT_KEY.encode()).hexdigest(),
                    granting=frozenset({"storefront"}), needs_worker=False,
                    flash_sale_id=sale["id"], client_key="same-2001", today=date(2026, 1, 2),
                    customer_id=2001, sku_id=sku, quantity=1, refusal_audit=row,
                )
            )  # fmt: skip
            await asyncio.sleep(1)
            assert not claiming.done()  # it waits on the key, holding the sale's row
            await holder.commit()
        with pytest.raises(asyncpg.InvalidTextRepresentationError, match="incomplete claim"):
            await claiming
    finally:
        await engine.dispose()
    async with stack.sessions() as session:
        sold = await session.scalar(text("SELECT sold FROM flash_sales WHERE id = :id"),
                                    {"id": sale["id"]})  # fmt: skip
        claims = await session.scalar(
            select(func.count()).where(FlashClaim.flash_sale_id == sale["id"])
        )
        buyers = await session.scalar(
            text("SELECT count(*) FROM flash_buyers WHERE flash_sale_id = :id"), {"id": sale["id"]}
        )
    assert (sold, claims, buyers) == (0, 0, 0)  # the unit taken was given back with the rest
    assert await audit_rows(stack, sale["id"]) == []
