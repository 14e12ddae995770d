"""The notification outbox sender (DESIGN §6.10): a loop in the worker process that takes due
deliveries (`FOR UPDATE SKIP LOCKED`, so several workers share the outbox and never take the same
row), sends each through its channel with a timeout, and records the attempt in the same
transaction: sent (never again) or failed with the next try after a doubling backoff, retried
until delivered.

A worker killed between a send and its commit leaves the row pending: it is sent again with the
same message id (the `X-Message-Id` header to a group robot, the `Message-ID` of an e-mail), which
the receiver drops as one it already has. Channels: 企业微信 and 钉钉 group-robot webhooks (their
documented message JSON; 钉钉's 加签 URL when the subscription has a secret) and e-mail by SMTP."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import httpx

from core.db import SessionFactory
from core.http import async_client
from models.domain.notifications import (
    Message,
    backoff_s,
    dingtalk_body,
    dingtalk_url,
    render,
    wecom_body,
)
from services.notifications import Due, any_due, claim_due, record_attempt
from services.timeline import statements_commit_alone

log = logging.getLogger(__name__)

MESSAGE_ID_HEADER = "X-Message-Id"


@dataclass(frozen=True)
class OutboxPolicy:
    batch: int = 20
    poll_interval_s: float = 1.0
    send_timeout_s: float = 5.0
    backoff_s: float = 2.0
    backoff_max_s: float = 300.0
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8125
    smtp_from: str = "houtai@example.com"
    console_url: str = "http://127.0.0.1:8000/console"


class SendError(Exception):
    """The channel did not take the message (down, refused, timed out): try again later."""


class Channels:
    """One send per channel, each bounded by the policy's timeout."""

    def __init__(
        self, policy: OutboxPolicy, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._policy = policy
        self._http = async_client(transport=transport, timeout=policy.send_timeout_s)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(self, due: Due, message: Message) -> None:
        try:
            if due.channel == "email":
                await asyncio.wait_for(
                    asyncio.to_thread(self._mail, due, message),
                    self._policy.send_timeout_s + 1,
                )
            elif due.channel in ("wecom", "dingtalk"):
                await self._robot(due, message)
            else:
                raise SendError(f"unknown channel {due.channel}")
        except (httpx.HTTPError, smtplib.SMTPException, OSError, TimeoutError) as exc:
            raise SendError(f"{type(exc).__name__}: {exc}") from exc

    async def _robot(self, due: Due, message: Message) -> None:
        if due.channel == "wecom":
            url, body = due.target, wecom_body(message)
        else:
            url = dingtalk_url(due.target, due.secret, int(time.time() * 1000))
            body = dingtalk_body(message)
        answer = await self._http.post(url, json=body, headers={MESSAGE_ID_HEADER: due.message_id})
        if answer.status_code // 100 != 2:
            raise SendError(f"HTTP {answer.status_code}")
        try:
            reply: Any = answer.json()
        except ValueError as exc:
            raise SendError("not a robot's answer") from exc
        if not isinstance(reply, dict) or reply.get("errcode") != 0:
            raise SendError(f"robot answered {str(reply)[:200]}")

    def _mail(self, due: Due, message: Message) -> None:
        policy = self._policy
        mail = EmailMessage()
        mail["From"] = policy.smtp_from
        mail["To"] = due.target
        mail["Subject"] = message.title
        mail["Message-ID"] = f"<{due.message_id}@houtai>"
        mail.set_content(message.text())
        with smtplib.SMTP(policy.smtp_host, policy.smtp_port, timeout=policy.send_timeout_s) as s:
            s.send_message(mail)


def utc_now() -> datetime:
    return datetime.now(UTC)


class OutboxSender:
    def __init__(
        self,
        sessions: SessionFactory,
        channels: Channels,
        policy: OutboxPolicy,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._sessions = sessions
        self._channels = channels
        self._policy = policy
        self._clock = clock

    def message(self, due: Due) -> Message:
        return render(
            kind=due.kind,
            step=due.step,
            ref=due.ref,
            detail=due.detail,
            amount_fen=due.amount_fen,
            order_no=due.order_no,
            link=f"{self._policy.console_url}/notifications",
        )

    async def _attempt(self, due: Due) -> str | None:
        try:
            await self._channels.send(due, self.message(due))
        except SendError as exc:
            return str(exc) or "failed"
        return None

    async def run_once(self) -> tuple[int, int]:
        """One batch: (attempted, sent)."""
        policy = self._policy
        async with self._sessions() as session:  # idle, the common case: one round trip
            await statements_commit_alone(session)
            if not await any_due(session, self._clock()):
                return 0, 0
        async with self._sessions() as session:
            due = await claim_due(session, self._clock(), policy.batch)
            if not due:
                return 0, 0
            errors = await asyncio.gather(*(self._attempt(d) for d in due))
            now = self._clock()
            for item, error in zip(due, errors, strict=True):
                wait = backoff_s(item.attempts + 1, policy.backoff_s, policy.backoff_max_s)
                await record_attempt(
                    session,
                    item.delivery_id,
                    now=now,
                    error=error,
                    retry_in=timedelta(seconds=wait),
                )
                if error is not None:
                    log.warning(
                        "notification not delivered",
                        extra={"message_id": item.message_id, "channel": item.channel,
                               "attempt": item.attempts + 1, "error": error},
                    )  # fmt: skip
            await session.commit()
        return len(due), sum(e is None for e in errors)

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: a full batch goes on at once, otherwise wait the poll interval."""
        while not stop.is_set():
            try:
                attempted, _ = await self.run_once()
            except Exception:  # the database away for a moment: the loop stays
                log.exception("notification outbox round failed")
                attempted = 0
            if attempted < self._policy.batch:
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._policy.poll_interval_s)
