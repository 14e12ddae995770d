"""A tiny SMTP server that keeps what it is sent (the company's mail server, in the sandbox).

Enough of RFC 5321 for a client like smtplib: HELO/EHLO, MAIL FROM, RCPT TO, DATA (dot-stuffed,
ended by a lone "."), RSET, NOOP, QUIT. A message whose Message-ID it already has is answered 250
and not kept again (a sender's retry after a lost answer). When the fault dice say so, a message
is refused with 451 (try again later), so a sender's retries can be tested."""

from __future__ import annotations

import asyncio
import email
import email.policy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sandbox.common import utc_now

MAX_MESSAGE_BYTES = 1_000_000


@dataclass(frozen=True)
class Mail:
    message_id: str
    sender: str
    recipients: tuple[str, ...]
    subject: str
    body: str
    at: datetime


@dataclass
class SmtpSink:
    refuse: Callable[[], bool] = lambda: False  # the fault dice: True answers 451
    mails: list[Mail] = field(default_factory=list)
    refused: int = 0
    duplicates: int = 0
    _server: asyncio.Server | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(self._session, host, port)
        return int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def keep(self, sender: str, recipients: list[str], data: bytes) -> str:
        """Parse and keep one message; the reply line."""
        if self.refuse():
            self.refused += 1
            return "451 4.3.0 Injected fault: try again later"
        message = email.message_from_bytes(data, policy=email.policy.default)
        message_id = str(message.get("Message-ID", "")).strip()
        if message_id and any(m.message_id == message_id for m in self.mails):
            self.duplicates += 1
            return "250 2.0.0 Already have it"
        part = message.get_body(preferencelist=("plain", "html"))
        body = part.get_content() if part is not None else ""
        self.mails.append(
            Mail(
                message_id=message_id,
                sender=sender,
                recipients=tuple(recipients),
                subject=str(message.get("Subject", "")),
                body=str(body),
                at=utc_now(),
            )
        )
        return "250 2.0.0 Kept"

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async def reply(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        envelope: dict[str, Any] = {"from": "", "to": []}
        try:
            await reply("220 sandbox-smtp ESMTP")
            while line := await asyncio.wait_for(reader.readline(), 60):
                command = line.decode(errors="replace").strip()
                verb = command[:4].upper()
                if verb == "QUIT":
                    await reply("221 2.0.0 Bye")
                    break
                if verb == "DATA":
                    if not envelope["to"]:
                        await reply("503 5.5.1 RCPT first")
                        continue
                    await reply("354 End data with <CR><LF>.<CR><LF>")
                    data = await _read_data(reader)
                    await reply(self.keep(envelope["from"], envelope["to"], data))
                    envelope = {"from": "", "to": []}
                    continue
                for answer in _answer(verb, command, envelope):
                    await reply(answer)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


_FIXED = {
    "EHLO": ["250-sandbox-smtp", f"250 SIZE {MAX_MESSAGE_BYTES}"],
    "HELO": ["250 sandbox-smtp"],
    "NOOP": ["250 2.0.0 OK"],
}


def _answer(verb: str, command: str, envelope: dict[str, Any]) -> list[str]:
    """The reply lines of a command other than DATA and QUIT (updating the envelope)."""
    if verb in _FIXED:
        return _FIXED[verb]
    if verb == "MAIL":
        envelope["from"], envelope["to"] = _address(command), []
        return ["250 2.1.0 OK"]
    if verb == "RCPT":
        envelope["to"].append(_address(command))
        return ["250 2.1.5 OK"]
    if verb == "RSET":
        envelope["from"], envelope["to"] = "", []
        return ["250 2.0.0 OK"]
    return ["502 5.5.2 Command not implemented"]


def _address(command: str) -> str:
    _, _, rest = command.partition(":")
    return rest.strip().split(" ")[0].strip("<>")


async def _read_data(reader: asyncio.StreamReader) -> bytes:
    lines: list[bytes] = []
    size = 0
    while True:
        line = await asyncio.wait_for(reader.readline(), 60)
        if not line or line.rstrip(b"\r\n") == b".":
            break
        if line.startswith(b".."):
            line = line[1:]
        size += len(line)
        if size <= MAX_MESSAGE_BYTES:
            lines.append(line)
    return b"".join(lines)
