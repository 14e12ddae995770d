"""Sandbox group robots and mail server: where houtai's notifications go (DESIGN §6.10).

- 企业微信 group robot: `POST /cgi-bin/webhook/send?key=…` with `{"msgtype": "text", "text":
  {"content": …}}` or `{"msgtype": "markdown", "markdown": {"content": …}}`.
- 钉钉 group robot: `POST /robot/send?access_token=…[&timestamp=…&sign=…]` with the same text
  shape or `{"msgtype": "markdown", "markdown": {"title": …, "text": …}}`. A token registered
  with a secret (`PUT /_sandbox/dingtalk/{token}`) must be signed (加签): sign =
  URL-encoded base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")), timestamp in ms within an
  hour.
Both answer `{"errcode": 0, "errmsg": "ok"}` (errors: a non-zero errcode, as the real ones do).
A message carrying an `X-Message-Id` header already received is answered ok and not kept twice.
- An SMTP sink (sandbox/smtp_sink.py) on its own port, started with this app.

What arrived: `GET /_sandbox/messages`, `GET /_sandbox/mails`. Faults (`PUT /_sandbox/faults`)
apply to the robots and the mail server alike: error_rate 1 is "the channel is down"."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Query, Request
from pydantic import BaseModel, Field

from sandbox.common import (
    FaultInjector,
    SandboxConfig,
    StrictModel,
    WebhookSender,
    sandbox_app,
    utc_now,
)
from sandbox.smtp_sink import SmtpSink

MESSAGE_ID_HEADER = "X-Message-Id"
SIGN_WINDOW_MS = 3_600_000


class RobotsConfig(SandboxConfig):
    name: str = "群机器人与邮件 (sandbox)"
    smtp_port: int | None = Field(None, description="start the SMTP sink on this port (0: any)")


class Received(BaseModel):
    channel: str
    robot: str  # the WeCom key or the DingTalk access token
    message_id: str | None
    msgtype: str
    content: str
    title: str | None = None
    at: datetime


class SignSecret(StrictModel):
    secret: str = Field(min_length=1, max_length=200)


@dataclass
class Robots:
    received: list[Received] = field(default_factory=list)
    dingtalk_secrets: dict[str, str] = field(default_factory=dict)
    duplicates: int = 0

    def keep(self, message: Received) -> None:
        if message.message_id and any(m.message_id == message.message_id for m in self.received):
            self.duplicates += 1
            return
        self.received.append(message)


def _error(code: int, message: str) -> dict[str, Any]:
    return {"errcode": code, "errmsg": message}


def _content(body: dict[str, Any]) -> tuple[str, str, str | None] | None:
    """(msgtype, content, title) of a text or markdown message; None if malformed."""
    msgtype = body.get("msgtype")
    part = body.get(msgtype) if isinstance(msgtype, str) else None
    if not isinstance(part, dict):
        return None
    if msgtype == "text" and isinstance(part.get("content"), str):
        return "text", part["content"], None
    if msgtype == "markdown":
        text = part.get("content", part.get("text"))
        if isinstance(text, str):
            title = part.get("title")
            return "markdown", text, title if isinstance(title, str) else None
    return None


def create_robots_app(config: RobotsConfig) -> FastAPI:
    robots = Robots()
    faults = FaultInjector(config.faults, config.seed)
    sink = SmtpSink(refuse=lambda: faults._random.random() < faults.faults.error_rate)
    webhooks = WebhookSender(config.webhook_secret.get_secret_value().encode(), config.webhook)
    app = sandbox_app(
        config.name,
        faults,
        webhooks,
        lambda path: path.startswith(("/cgi-bin/", "/robot/")),
    )
    app.state.robots, app.state.sink = robots, sink

    @asynccontextmanager
    async def with_smtp(_: FastAPI) -> AsyncIterator[None]:
        if config.smtp_port is not None:
            app.state.smtp_port = await sink.start(port=config.smtp_port)
        try:
            yield
        finally:
            await sink.stop()

    app.router.lifespan_context = _chain(app.router.lifespan_context, with_smtp)

    @app.post("/cgi-bin/webhook/send")
    async def wecom(
        request: Request, key: str = Query(min_length=1, max_length=100)
    ) -> dict[str, Any]:
        body = await request.json()
        found = _content(body) if isinstance(body, dict) else None
        if found is None:
            return _error(40008, "invalid message type")
        msgtype, content, _ = found
        robots.keep(
            Received(
                channel="wecom",
                robot=key,
                message_id=request.headers.get(MESSAGE_ID_HEADER),
                msgtype=msgtype,
                content=content,
                at=utc_now(),
            )
        )
        return _error(0, "ok")

    @app.post("/robot/send")
    async def dingtalk(
        request: Request,
        access_token: str = Query(min_length=1, max_length=100),
        timestamp: str | None = Query(None, max_length=20),
        sign: str | None = Query(None, max_length=200),
    ) -> dict[str, Any]:
        secret = robots.dingtalk_secrets.get(access_token)
        if secret is not None:
            if timestamp is None or sign is None or not timestamp.isdigit():
                return _error(310000, "sign not match")
            if abs(time.time() * 1000 - int(timestamp)) > SIGN_WINDOW_MS:
                return _error(310000, "timestamp expired")
            # The query string arrives URL-decoded: compare the decoded forms.
            wanted = base64.b64encode(
                hmac.new(
                    secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256
                ).digest()
            ).decode()
            if not hmac.compare_digest(sign, wanted):
                return _error(310000, "sign not match")
        body = await request.json()
        found = _content(body) if isinstance(body, dict) else None
        if found is None:
            return _error(40035, "invalid message")
        msgtype, content, title = found
        robots.keep(
            Received(
                channel="dingtalk",
                robot=access_token,
                message_id=request.headers.get(MESSAGE_ID_HEADER),
                msgtype=msgtype,
                content=content,
                title=title,
                at=utc_now(),
            )
        )
        return _error(0, "ok")

    @app.put("/_sandbox/dingtalk/{token}")
    async def register_secret(token: str, body: SignSecret) -> dict[str, str]:
        robots.dingtalk_secrets[token] = body.secret
        return {"token": token}

    @app.get("/_sandbox/messages")
    async def messages() -> dict[str, Any]:
        return {"messages": robots.received, "duplicates": robots.duplicates}

    @app.get("/_sandbox/mails")
    async def mails() -> dict[str, Any]:
        return {
            "mails": [m.__dict__ for m in sink.mails],
            "duplicates": sink.duplicates,
            "refused": sink.refused,
        }

    return app


def _chain(first: Any, second: Any) -> Any:
    @asynccontextmanager
    async def both(app: FastAPI) -> AsyncIterator[None]:
        async with first(app), second(app):
            yield

    return both
