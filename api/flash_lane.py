"""The flash sale's lane (DESIGN §6.8, issue 16): a buyer the sale refuses is answered in one
round trip to PostgreSQL and without the route's machinery, and a buyer it accepts is claimed
in that same round trip before the route places the order.

In a flash sale's rush nearly every request is a refusal (5,000 buyers for 100 units), and with
500 of them in flight their p99 is set by what one refusal costs the cores. Through the route a
refusal cost about 2 ms of the API's CPU and 0.7 ms of PostgreSQL's: the key's read, BEGIN, the
look, COMMIT (four round trips), the router, FastAPI's dependency solving and body handling.
This pure ASGI middleware, just inside the request id, the metrics and the span (the same as
for any request) and outside the audit middleware (its refusal writes its own row), takes
`POST /v1/orders` with an `X-API-Key` and a JSON body that is a valid flash sale order (the
route's own model validates it), and runs one statement (services/flash_sales.py
`claim_as_key`): the key authenticated, its permission (the route's own, read from its
dependency), the look and, when it refuses, the refusal's audit row; when it refuses nothing,
the gate's claim; as one implicit transaction. A refusal is answered here with the very
problem+json the route raises (`flash_refused`), the route template on the scope for the
metrics. A claim (committed) goes to the route with the request, its number in the request's
state (`LaneClaim`): the route places that order as after its own gate (a start that fails
gives the claim back; a request cut off before it, the worker's hand-off sweep). Anything else
(no or a wrong key, a key without the permission, an unknown customer, a storefront key that
has its order, a body the route would refuse, a failure) goes to the route unchanged, body and
all, which answers as it always has.

Why the lane claims too (issue 16): while units are left the look refuses nobody, so the
opening burst (with 500 in flight, the first 500 buyers) all went through the route to its
gate, whose claim holds the sale's row from its UPDATE until the route's COMMIT a round trip
and a turn of the API's busy event loop later. Those buyers queued on that row one after the
other, each holding one of the API's pool connections, and the refusals sent meanwhile waited
for a connection behind them: 409s of the opening at seconds where later ones took a fraction.
In the lane's one statement the row is held only while PostgreSQL finishes it and commits.

Traced or not, the lane is the same: its statement runs at the driver's level, below the
SQLAlchemy events that make a span per statement, and gets the same span from `core.db.Alone`
(`core/sql_spans.py`), so a traced request still shows every statement it ran."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime

import asyncpg
from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.deps import AppDeps, audit_values
from api.errors import problem_answer
from api.routes import orders
from api.routes.orders import CLAIM_STATE
from api.schemas.orders import OrderCreate
from core.security import api_key_prefix
from models.domain.access import ADMIN_PERMISSIONS, PERMISSIONS, WORKER_PERMISSIONS
from models.domain.business_day import BUSINESS_TZ
from services import flash_gate

log = logging.getLogger(__name__)
PATH = "/v1/orders"
MAX_BODY = 16 * 1024  # an order of one line is a few hundred bytes; larger goes to the route
# The request's columns of the refusal's audit row; the statement fills the actor's.
_REQUEST_COLUMNS = ("action", "method", "path", "object_type", "object_id", "status_code",
                    "client_ip", "detail")  # fmt: skip


def place_order_route() -> APIRoute:
    """The route the lane answers for (its template names the metrics series)."""
    for route in orders.router.routes:
        if isinstance(route, APIRoute) and route.endpoint is orders.place_order:
            return route
    raise LookupError("POST /v1/orders is not among the order routes")


def route_permission(route: APIRoute) -> str:
    """The permission the route's writer dependency requires (api/deps.py `writer`)."""
    found = [
        permission
        for dependency in route.dependant.dependencies
        if isinstance(permission := getattr(dependency.call, "permission", None), str)
    ]
    if len(found) != 1:
        raise LookupError(f"{route.path}: one permission expected, found {found}")
    return found[0]


class FlashRefusalLane:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.route = place_order_route()
        self.action = f"POST {self.route.path}"
        permission = route_permission(self.route)
        if permission in ADMIN_PERMISSIONS:  # the allow-list is checked by address: not here
            raise ValueError(f"{permission} is an admin permission")
        self.granting = PERMISSIONS.get(permission, frozenset())
        self.needs_worker = permission in WORKER_PERMISSIONS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != PATH:
            await self.app(scope, receive, send)
            return
        key = content_type = length = None
        for name, value in scope["headers"]:
            if name == b"x-api-key" and key is None:
                key = value.decode("latin-1")
            elif name == b"content-type" and content_type is None:
                content_type = value
            elif name == b"content-length" and length is None:
                length = value
        if (
            not key
            or content_type is None
            or content_type.split(b";", 1)[0].strip().lower() != b"application/json"
            or length is None
            or not length.isdigit()
            or int(length) > MAX_BODY
        ):
            await self.app(scope, receive, send)
            return
        body, complete = await _read_body(receive)
        replay = _replaying(body, complete, receive)
        if not complete or not await self._refused(scope, receive, send, key, body):
            await self.app(scope, replay, send)

    async def _refused(
        self, scope: Scope, receive: Receive, send: Send, key: str, body: bytes
    ) -> bool:
        """Answered 409 here (True), or left to the route (False), with the claim the lane made
        for it in the request's state (`LaneClaim`) or nothing written."""
        prefix = api_key_prefix(key)
        order = _lane_order(body)
        if prefix is None or order is None:
            return False
        found = await self._claim(scope, prefix, key, order)
        if found is None:
            return False
        assert order.flash_sale_id is not None
        if found.claimed is not None and found.api_key_id is not None:
            # Committed: the route places the order under this number (its gate is passed).
            scope.setdefault("state", {})[CLAIM_STATE] = flash_gate.LaneClaim(
                order_no=found.claimed,
                api_key_id=found.api_key_id,
                flash_sale_id=order.flash_sale_id,
                client_key=order.client_order_key,
                customer_id=order.customer_id,
            )
            return False
        if found.refusal is None or not found.audited:
            return False
        scope["route"] = self.route  # the metrics' route template, the span's name
        problem = orders.flash_refused(found.refusal, order, order.lines[0].sku_id)
        await problem_answer(problem)(scope, receive, send)
        return True

    async def _claim(
        self, scope: Scope, prefix: str, key: str, order: OrderCreate
    ) -> flash_gate.KeyClaim | None:
        """The one statement (services/flash_gate.py `claim_as_key`); None when it failed
        (rolled back: the route answers)."""
        assert order.flash_sale_id is not None
        [line] = order.lines
        row = audit_values(Request(scope), None, action=self.action, status_code=409)
        row["detail"] = json.dumps(row["detail"], ensure_ascii=False)
        deps: AppDeps = scope["app"].state.deps
        try:
            return await flash_gate.claim_as_key(
                deps.engine,
                prefix=prefix,
                key_hash=hashlib.sha256(key.encode()).hexdigest(),
                granting=self.granting,
                needs_worker=self.needs_worker,
                flash_sale_id=order.flash_sale_id,
                client_key=order.client_order_key,
                today=datetime.now(BUSINESS_TZ).date(),
                customer_id=order.customer_id,
                sku_id=line.sku_id,
                quantity=line.quantity,
                refusal_audit={name: row[name] for name in _REQUEST_COLUMNS},
            )
        except asyncpg.InvalidTextRepresentationError as exc:
            if flash_gate.INCOMPLETE_CLAIM not in str(exc):
                log.warning("flash refusal lane failed: the route answers", exc_info=True)
            # else the same storefront key or customer claimed at that moment: nothing was kept
            return None
        except Exception:  # the route runs it again and answers as it does any failure
            log.warning("flash refusal lane failed: the route answers", exc_info=True)
            return None


def _lane_order(body: bytes) -> OrderCreate | None:
    """The body as the route reads it, if it is a flash sale order of one line (no presale)."""
    try:
        order = OrderCreate.model_validate(json.loads(body))
    except (ValueError, ValidationError):  # the route answers it (422)
        return None
    if order.flash_sale_id is None or order.presale_id is not None or len(order.lines) != 1:
        return None
    return order


async def _read_body(receive: Receive) -> tuple[bytes, bool]:
    """The request's body, and whether it came whole (False: the client went away)."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks), False
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks), True


def _replaying(body: bytes, complete: bool, receive: Receive) -> Receive:
    """`receive` for the route: the body read, then whatever comes next."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        if not complete:
            return {"type": "http.disconnect"}
        return {"type": "http.request", "body": body, "more_body": False}

    return again


def install(app: FastAPI) -> None:
    """Add it after the audit middleware and before the metrics (api/main.py): each one added
    wraps those added before."""
    app.add_middleware(FlashRefusalLane)
