"""Short reads in one step: the ones every socket handshake and signed-in request makes.

Through SQLAlchemy's asyncio layer, aiosqlite runs each DB-API call on its connection's thread
and hands the result back to the event loop: a one-statement read is eight such round trips
(BEGIN, cursor, execute, fetch, close, ... rollback), each contending for the GIL with the loop.
A burst of 100 joins (three reads each) spent ~5 ms of CPU per join there, most of the server's
time (issue 8). Here a read is a plain function of a synchronous ``Connection``, run:

- on SQLite (a file): on a thread of its own, on a synchronous engine over the same file (WAL:
  readers see every committed write and never wait for writers). Reads asked for while others
  run go together, in one trip to that thread and one transaction (as a group commit does for
  writes): a burst of handshakes costs a few trips, not one each. A read sees every write
  committed before it was asked for: its batch's snapshot is taken after that;
- elsewhere (PostgreSQL: asyncpg is natively asynchronous; an in-memory SQLite that a second
  engine would not see): on the engine itself, through ``run_sync``.

Writes never come here: they stay on the asynchronous engine and its write transactions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from server.infra.storage.thread_engine import ThreadEngine

__all__ = ["Reads", "rows_of"]

T = TypeVar("T")

_Read = Callable[[sa.Connection], Any]
_Outcome = tuple[bool, Any]  # (succeeded, result or exception)

# A batch's bound: one trip never holds a read up behind more than this many others.
_BATCH = 64


class Reads:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._waiting: list[tuple[_Read, asyncio.Future[Any]]] = []
        self._batch: asyncio.Future[list[_Outcome]] | None = None  # the one in flight
        self._side = ThreadEngine.over(engine, _configure_reader, "sql-reads")

    @property
    def engine(self) -> sa.Engine:
        """The engine whose connections run the reads (for event listeners)."""
        return self._side.engine if self._side is not None else self._engine.sync_engine

    async def run(self, read: Callable[[sa.Connection], T]) -> T:
        """``read(connection)``'s result; its statements see one snapshot."""
        if self._side is None:
            async with self._engine.connect() as connection:
                return await connection.run_sync(read)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((read, future))
        if self._batch is None:
            self._start_batch()
        return await future

    def _start_batch(self) -> None:
        assert self._side is not None
        batch, self._waiting = self._waiting[:_BATCH], self._waiting[_BATCH:]
        reads = [read for read, _ in batch]
        self._batch = self._side.run(self._read_batch, self._side.engine, reads)
        self._batch.add_done_callback(lambda done: self._finish_batch(batch, done))

    def _finish_batch(
        self,
        batch: list[tuple[_Read, asyncio.Future[Any]]],
        done: asyncio.Future[list[_Outcome]],
    ) -> None:
        self._batch = None
        failure = asyncio.CancelledError() if done.cancelled() else done.exception()
        outcomes = [(False, failure)] * len(batch) if failure is not None else done.result()
        for (_, future), (succeeded, value) in zip(batch, outcomes, strict=True):
            if future.done():
                continue  # its caller gave up waiting
            if succeeded:
                future.set_result(value)
            else:
                future.set_exception(value)
        if self._waiting and self._side is not None:
            self._start_batch()

    @staticmethod
    def _read_batch(engine: sa.Engine, reads: list[_Read]) -> list[_Outcome]:
        outcomes: list[_Outcome] = []
        with engine.connect() as connection:
            for read in reads:
                try:
                    outcomes.append((True, read(connection)))
                except Exception as exc:
                    outcomes.append((False, exc))
                    # The next read starts afresh (a broken connection is dropped here too).
                    connection.rollback()
        return outcomes

    async def close(self) -> None:
        if self._side is None:
            return
        while self._batch is not None:  # answer what was asked for
            await asyncio.wait([self._batch])
            await asyncio.sleep(0)
        side, self._side = self._side, None
        await side.close()


_compiled: dict[int, tuple[sa.Select[Any], str, tuple[str, ...]]] = {}


def rows_of(
    connection: sa.Connection, statement: sa.Select[Any], params: dict[str, Any]
) -> list[tuple[Any, ...]]:
    """``statement``'s rows as plain tuples, values as the driver gives them (SQLite: booleans
    as 0 or 1). On SQLite through the DB-API cursor of the connection's own transaction, the
    statement compiled once: SQLAlchemy's execution was ~11 us of a ~20 us read (9.8 against
    20.5 us, measured alone), and every socket handshake makes one (issue 8). Only for
    statements built once, at import."""
    if connection.dialect.name != "sqlite":
        return [tuple(row) for row in connection.execute(statement, params)]
    found = _compiled.get(id(statement))
    if found is None or found[0] is not statement:
        compiled = statement.compile(dialect=connection.dialect)
        names = tuple(compiled.positiontup or ())
        found = _compiled[id(statement)] = (statement, compiled.string, names)
    _, sql, names = found
    values = tuple(params[name] for name in names)
    dbapi = connection.dialect.loaded_dbapi
    try:
        cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            rows: list[tuple[Any, ...]] = cursor.execute(sql, values).fetchall()
        finally:
            cursor.close()
    except dbapi.Error as exc:
        # Raised as SQLAlchemy would have (its errors are what callers map: UNAVAILABLE).
        raise sa.exc.DBAPIError.instance(
            sql, values, exc, dbapi.Error, hide_parameters=True
        ) from exc
    return rows


def _configure_reader(engine: sa.Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # As the asynchronous engine's connections (engine.py), and read-only.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # One snapshot per batch (WAL: taken without waiting for writers).
        connection.exec_driver_sql("BEGIN")
