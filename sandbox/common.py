"""What the sandbox services share: fault injection, signed webhook delivery with retries,
problem+json errors, and running an app on loopback.

A webhook is a POST of a JSON body with two headers: `X-Sandbox-Timestamp` (unix seconds) and
`X-Sandbox-Signature` = `core.security.sign(secret, raw_body, timestamp)`. The receiver verifies
with `core.security.signature_valid(secret, raw_body, timestamp, signature)` over the raw bytes
it received, before parsing them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from core.http import async_client
from core.security import sign

TIMESTAMP_HEADER = "X-Sandbox-Timestamp"
SIGNATURE_HEADER = "X-Sandbox-Signature"

Clock = Callable[[], datetime]
log = logging.getLogger("sandbox")


def utc_now() -> datetime:
    return datetime.now(UTC)


class StrictModel(BaseModel):
    """A request body: unknown fields are an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Faults(StrictModel):
    """What goes wrong, changeable at runtime with `PUT /_sandbox/faults` (a full replacement)."""

    latency_ms: int = Field(0, ge=0, description="added before every API call is handled")
    error_rate: float = Field(0.0, ge=0, le=1, description="fraction of API calls answered 503")
    timeout_rate: float = Field(
        0.0, ge=0, le=1, description="fraction of API calls that do the work, then stall"
    )
    stall_ms: int = Field(10_000, ge=0, description="how long a stalled call waits to answer")
    duplicate_webhooks: int = Field(0, ge=0, le=20, description="extra copies of each webhook")
    webhook_delay_ms: int = Field(0, ge=0, description="wait before a webhook's first attempt")


class WebhookPolicy(StrictModel):
    max_attempts: int = Field(6, ge=1)
    timeout_s: float = Field(5.0, gt=0)
    backoff_s: float = Field(0.5, ge=0, description="first retry delay, doubled per attempt")
    backoff_max_s: float = Field(30.0, ge=0)


class SandboxConfig(StrictModel):
    webhook_secret: SecretStr
    faults: Faults = Field(default_factory=Faults)
    seed: int | None = Field(None, description="seeds the fault dice, for repeatable runs")
    webhook: WebhookPolicy = Field(default_factory=WebhookPolicy)


class SandboxError(Exception):
    """Answered as problem+json with this status."""

    def __init__(self, status: int, title: str, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.extra = status, title, detail, extra


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    headers = {"Retry-After": "1"} if status == 503 else None
    return JSONResponse(body, status, headers=headers, media_type="application/problem+json")


def install_problem_handlers(app: FastAPI) -> None:
    async def on_sandbox_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, SandboxError)
        return problem(exc.status, exc.title, exc.detail, **exc.extra)

    async def on_invalid(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        return problem(422, "Invalid request", "the request failed validation", errors=errors)

    app.add_exception_handler(SandboxError, on_sandbox_error)
    app.add_exception_handler(RequestValidationError, on_invalid)


class FaultInjector:
    """Rolls the (optionally seeded) dice for each API call."""

    def __init__(self, faults: Faults, seed: int | None) -> None:
        self.faults = faults
        self._random = random.Random(seed)

    def install(self, app: FastAPI, applies: Callable[[str], bool]) -> None:
        """Latency, 503s and stalls for the requests whose path `applies`."""

        @app.middleware("http")
        async def inject(
            request: Request, call_next: Callable[[Request], Awaitable[Response]]
        ) -> Response:
            if not applies(request.url.path):
                return await call_next(request)
            faults = self.faults
            if faults.latency_ms:
                await asyncio.sleep(faults.latency_ms / 1000)
            if self._random.random() < faults.error_rate:
                return problem(503, "Service unavailable", "injected fault: error_rate")
            stall = self._random.random() < faults.timeout_rate
            response = await call_next(request)  # the work is done either way
            if stall:
                await asyncio.sleep(faults.stall_ms / 1000)
            return response

        @app.get("/_sandbox/faults")
        async def get_faults() -> Faults:
            return self.faults

        @app.put("/_sandbox/faults")
        async def put_faults(faults: Faults) -> Faults:
            self.faults = faults
            return faults


@dataclass(frozen=True)
class Delivery:
    """One attempt to deliver one webhook copy."""

    url: str
    event: str
    attempt: int
    status_code: int | None
    error: str | None
    at: datetime


@dataclass
class WebhookSender:
    """Signs and POSTs webhooks in background tasks, retrying with backoff until a 2xx."""

    secret: bytes
    policy: WebhookPolicy
    transport: httpx.AsyncBaseTransport | None = None
    deliveries: deque[Delivery] = field(default_factory=lambda: deque(maxlen=1000), init=False)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set, init=False)
    _client: httpx.AsyncClient | None = field(default=None, init=False)

    def _http(self) -> httpx.AsyncClient:
        """One pooled client for every delivery (a client per attempt costs a TLS context)."""
        if self._client is None:
            self._client = async_client(transport=self.transport, timeout=self.policy.timeout_s)
        return self._client

    def dispatch(self, url: str, payload: dict[str, Any], faults: Faults) -> None:
        """Send `payload` to `url` 1 + faults.duplicate_webhooks times (identical bodies)."""
        event = str(payload["event"])
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        copies = 1 + faults.duplicate_webhooks
        task = asyncio.get_running_loop().create_task(
            self._send(url, event, body, copies, faults.webhook_delay_ms / 1000)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, url: str, event: str, body: bytes, copies: int, delay_s: float) -> None:
        if delay_s:
            await asyncio.sleep(delay_s)
        await asyncio.gather(*(self._deliver(url, event, body) for _ in range(copies)))

    async def _deliver(self, url: str, event: str, body: bytes) -> bool:
        policy = self.policy
        for attempt in range(1, policy.max_attempts + 1):
            timestamp = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                TIMESTAMP_HEADER: timestamp,
                SIGNATURE_HEADER: sign(self.secret, body, timestamp),
            }
            status: int | None = None
            error: str | None = None
            try:
                answer = await self._http().post(url, content=body, headers=headers)
                status = answer.status_code
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                error = type(exc).__name__
            self.deliveries.append(Delivery(url, event, attempt, status, error, utc_now()))
            log.info(
                "webhook attempt",
                extra={"event": event, "attempt": attempt, "status": status, "error": error},
            )
            if status is not None and 200 <= status < 300:
                return True
            if attempt < policy.max_attempts:
                await asyncio.sleep(
                    min(policy.backoff_s * 2 ** (attempt - 1), policy.backoff_max_s)
                )
        log.warning("webhook given up", extra={"event": event, "attempts": policy.max_attempts})
        return False

    async def drain(self, timeout_s: float = 10.0) -> None:
        """Wait for the webhooks in flight (tests use this before asserting on silence)."""
        if self._tasks:
            await asyncio.wait_for(asyncio.gather(*list(self._tasks)), timeout_s)

    async def aclose(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def sandbox_app(
    title: str, faults: FaultInjector, webhooks: WebhookSender, applies: Callable[[str], bool]
) -> FastAPI:
    """A FastAPI app with problem+json errors, faults on the paths that `applies`, the delivery
    log at `GET /_sandbox/deliveries`, and webhooks in flight cancelled at shutdown."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await webhooks.aclose()

    app = FastAPI(title=title, lifespan=lifespan)
    install_problem_handlers(app)
    faults.install(app, applies)

    @app.get("/_sandbox/deliveries")
    async def deliveries() -> list[dict[str, Any]]:
        return [
            {
                "url": d.url,
                "event": d.event,
                "attempt": d.attempt,
                "status_code": d.status_code,
                "error": d.error,
                "at": d.at.isoformat(),
            }
            for d in webhooks.deliveries
        ]

    return app


class PromptServer(uvicorn.Server):
    """uvicorn that stops as soon as it is told to. Plain uvicorn notices should_exit on its
    next 0.1 s tick and then pauses a fixed 0.1 s for open connections to finish, even when none
    is open: ~0.2 s of every served app's teardown. Connections still open at the stop get
    uvicorn's own shutdown, pause included."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.told = asyncio.Event()

    def stop(self) -> None:
        self.should_exit = True
        self.told.set()

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):  # the Date header, once a second, as uvicorn
            counter = (counter + 1) % 864000
            with suppress(TimeoutError):
                await asyncio.wait_for(self.told.wait(), 0.1)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.server_state.connections:
            await super().shutdown(sockets)
            return
        for server in self.servers:  # uvicorn's steps, less the pause for open connections
            server.close()
        for sock in sockets or []:
            sock.close()
        try:
            async with asyncio.timeout(self.config.timeout_graceful_shutdown):
                await self._wait_tasks_to_complete()
        except TimeoutError:
            for task in self.server_state.tasks:
                task.cancel(msg="Task cancelled, timeout graceful shutdown exceeded")
        if not self.force_exit:
            await self.lifespan.shutdown()


@asynccontextmanager
async def serve(app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> AsyncIterator[str]:
    """Run `app` with uvicorn in this event loop; yields its base URL (port 0: a free one).
    Stops at once on the way out (PromptServer)."""
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=1
    )
    server = PromptServer(config)
    task = asyncio.get_running_loop().create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()  # raises why it could not start
                raise RuntimeError("uvicorn stopped before it started")
            await asyncio.sleep(0.01)
        bound = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://{host}:{bound}"
    finally:
        server.stop()
        await task
