"""A lean HTTP/1.1 load generator for the flash-sale rush (bench/_campaign_flash.py).

The buyers of a real flash sale are on other machines; here the load generator shares the two
cores with the API, PostgreSQL, Temporal and the worker. httpx costs about 3.5 ms of CPU per
request on this machine, more than the refusal it measures, so the rush's latencies measured the
load generator's queue as much as houtai's. This client keeps `size` keep-alive connections,
writes a request as one prepared byte string and reads the answer by its Content-Length: about
a tenth of that cost. It speaks only what the API answers `POST /v1/orders` with (a JSON body
with Content-Length); anything else is an error, never a guess.

Its connections are open before the rush starts (`lean_client(..., connected=True)`, `size` of
them, 50 at a time), and a request's time runs from its bytes being written on one of them.
A real rush's buyers come to a flash sale that opens at a known minute, through a front
(a load balancer, a CDN, a proxy) that holds its connections to the API open: the API sees
requests on open connections, not hundreds of TCP handshakes in the same millisecond. Opening
500 connections at the moment the first 500 requests go (as this client did) measured the
handshakes and both event loops' turns to complete them on a busy two-core machine, and
charged it to the first 500 requests: measured on a loaded machine, those 500 connects took
p50 4.3 s (opening rush) and p50 0.6 s / p99 2.1 s (the sold-out rush, whose later
refusals, on open connections, took p50 0.76 s); a bare app's refusals (bench/_flash_floor.py)
showed a p99 of 1.1 s (10 s on a loaded machine) next to a p50 of 39 ms. No SYN was dropped in
those runs (TcpExtListenOverflows did not move): the time is the handshakes' completion on
busy event loops. A connection the server closed while it waited in the pool (uvicorn's
keep-alive timeout, 5 s) is opened again before its request is timed."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit

READ_TIMEOUT_S = 120.0


class LeanError(Exception):
    """The server answered something this client does not read (no Content-Length, ...)."""


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def exchange(self, request: bytes) -> tuple[int, bytes, bool]:
        """(status, body, keep-alive) of one request on this connection."""
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if "content-length" not in headers:
            raise LeanError(f"answer {status} without Content-Length: {headers}")
        body = await self.reader.readexactly(int(headers["content-length"]))
        return status, body, headers.get("connection", "").lower() != "close"

    def close(self) -> None:
        self.writer.close()


class LeanClient:
    """POST JSON to one host over at most `size` keep-alive connections."""

    def __init__(self, base_url: str, size: int) -> None:
        parts = urlsplit(base_url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.size = size
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(size)

    async def _connect(self) -> _Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=1 << 20)
        return _Connection(reader, writer)

    async def connect_all(self, batch: int = 50) -> float:
        """Open the `size` connections before the rush, `batch` handshakes at a time (as a
        front holding its connections to the API would have them); the seconds it took."""
        began = time.perf_counter()
        while len(self._idle) < self.size:
            wanted = min(batch, self.size - len(self._idle))
            self._idle += await asyncio.gather(*(self._connect() for _ in range(wanted)))
        return time.perf_counter() - began

    async def _open_connection(self) -> _Connection:
        """An open connection from the pool (one the server closed meanwhile is replaced), or
        a new one."""
        while self._idle:
            connection = self._idle.pop()
            if not connection.reader.at_eof() and not connection.writer.is_closing():
                return connection
            connection.close()
        return await self._connect()

    async def post(self, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any, float]:
        """(status, decoded JSON answer, seconds from sending to the whole answer: neither the
        wait for a free connection nor opening one is counted); a transport failure raises
        OSError/LeanError."""
        payload = json.dumps(body, ensure_ascii=False).encode()
        lines = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}",
                 "Content-Type: application/json", f"Content-Length: {len(payload)}"]  # fmt: skip
        lines += [f"{name}: {value}" for name, value in headers.items()]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode() + payload
        async with self._slots:
            connection = await self._open_connection()
            start = time.perf_counter()
            try:
                status, answer, keep = await asyncio.wait_for(
                    connection.exchange(request), READ_TIMEOUT_S
                )
            except BaseException:
                connection.close()
                raise
            if keep:
                self._idle.append(connection)
            else:
                connection.close()
            took = time.perf_counter() - start
        return status, json.loads(answer) if answer else None, took

    async def aclose(self) -> None:
        for connection in self._idle:
            connection.close()
        self._idle.clear()


@asynccontextmanager
async def lean_client(
    base_url: str, size: int, *, connected: bool = True
) -> AsyncIterator[LeanClient]:
    """The client; `connected`: its `size` connections opened before it is handed out."""
    client = LeanClient(base_url, size)
    try:
        if connected:
            await client.connect_all()
        yield client
    finally:
        await client.aclose()
