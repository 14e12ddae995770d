"""Writes sent one after another on a session's connection, inside its transaction, by a task
of their own, while the caller goes on working out the next rows (a wave build: PostgreSQL
writes keys, indexes and references on one core while Python allocates and routes on the
other, services/wave_building.py). The session is not used until they are done."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from models.db import Base

T = TypeVar("T")
Job = Callable[[Any], Awaitable[T]]  # given the connection (asyncpg's)


def table_name(model: type[Base]) -> str:
    return cast(Table, model.__table__).name


async def driver_of(session: AsyncSession) -> Any:
    """The session's asyncpg connection, inside the session's transaction."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


class OrderedWrites:
    """COPYs and statements sent one after another on one connection by a task of their own,
    in the order they are given, while the caller goes on working out the next rows."""

    def __init__(self, driver: Any) -> None:
        self._queue: asyncio.Queue[tuple[Job[Any], asyncio.Future[Any]] | None]
        self._queue = asyncio.Queue()
        self._writer = asyncio.create_task(self._write(driver))

    def send(
        self, model: type[Base], columns: list[str], records: list[tuple[object, ...]]
    ) -> None:
        """COPY `records` (in `columns` order) into the model's table; none: nothing sent."""
        if records:
            table = table_name(model)
            self.run(lambda driver: driver.copy_records_to_table(table, records=records,
                                                                 columns=columns))  # fmt: skip

    def run(self, job: Job[T]) -> asyncio.Future[T]:
        """`job` on the connection when the writes before it are made; its result. If a write
        before it fails, the future gets that write's error."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((job, future))
        return future

    async def done(self) -> None:
        """Every write made (its error, if one failed)."""
        self._queue.put_nowait(None)
        await self._writer

    async def abandon(self) -> None:
        """After an error of the caller's: the write under way ends, the rest is not sent."""
        self._refuse(None)
        self._queue.put_nowait(None)
        await asyncio.gather(self._writer, return_exceptions=True)

    async def _write(self, driver: Any) -> None:
        while (item := await self._queue.get()) is not None:
            job, future = item
            try:
                result = await job(driver)
            except BaseException as error:
                _settle(future, error)
                self._refuse(error)
                raise
            if not future.done():  # its caller may have stopped waiting
                future.set_result(result)

    def _refuse(self, error: BaseException | None) -> None:
        """The writes still waiting fail with `error` (a caller may be waiting for them), or
        are cancelled."""
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                _settle(item[1], error)


def _settle(future: asyncio.Future[Any], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.cancel()
    else:
        future.set_exception(error)
        future.exception()  # also the writer's error, seen by done(): not reported unseen
