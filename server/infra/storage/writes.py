"""Short write transactions in one step: the audit log and what rooms record (issue 8).

Through SQLAlchemy's asyncio layer, aiosqlite runs each DB-API call on its connection's thread
and hands the result back to the event loop: a one-statement write transaction is a dozen such
round trips (pool checkout, BEGIN IMMEDIATE, cursor, execute, close, COMMIT, the reset on
return), measured at ~0.7 ms of CPU, and an audit append (head, insert, head) at ~1.3 ms, against
~0.06 ms for the same transaction through ``sqlite3`` (most of that the fsync). A burst of 100
joins spent ~15 % of the server's CPU there. Here a write is a plain function of a synchronous
``Connection``, run in one transaction:

- on SQLite (a file): on a thread of its own, on a synchronous engine over the same file, set
  up as the engine's writers are (``BEGIN IMMEDIATE``, ``synchronous=FULL``): one trip to that
  thread a transaction. Writers on other connections (the engine's own, the CLI) queue on
  SQLite's write lock as before;
- elsewhere (PostgreSQL: asyncpg is natively asynchronous; an in-memory SQLite that a second
  engine would not see): on the engine itself, in ``begin()``, through ``run_sync``.

A write whose caller stops waiting (cancelled) still runs to its end on the thread: committed
or rolled back whole, never half.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from server.infra.storage.engine import configure_sqlite, for_writing, writing

__all__ = ["Writes"]

T = TypeVar("T")


class Writes:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._base: sa.Engine | None = None
        self._sync: sa.Engine | None = None
        self._thread: concurrent.futures.ThreadPoolExecutor | None = None
        url = engine.url
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            self._base = sa.create_engine(
                url.set(drivername="sqlite"), hide_parameters=True, pool_size=1, max_overflow=0
            )
            configure_sqlite(self._base)
            self._sync = writing(self._base)
            # One thread: the transactions it runs are one at a time anyway (SQLite has one
            # writer), and a second would only take turns with the loop for the GIL.
            self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sql-writes")
            # Disposing of the engine (closing, or a test pulling the database away) drops the
            # writer's connection too: the next write opens the file anew, as the engine does.
            event.listen(engine.sync_engine, "engine_disposed", self._dispose_soon)

    @property
    def engine(self) -> sa.Engine:
        """The engine whose connections run the writes (for event listeners)."""
        return self._base if self._base is not None else self._engine.sync_engine

    async def run(self, write: Callable[[sa.Connection], T]) -> T:
        """``write(connection)``'s result, in one transaction: committed if it returns, rolled
        back if it raises."""
        if self._sync is None or self._thread is None:
            async with for_writing(self._engine).begin() as connection:
                return await connection.run_sync(write)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._thread, self._transaction, self._sync, write)

    @staticmethod
    def _transaction(engine: sa.Engine, write: Callable[[sa.Connection], T]) -> T:
        with engine.begin() as connection:
            return write(connection)

    def _dispose_soon(self, _engine: Any) -> None:
        # On the writing thread, after any transaction already queued: its connection is never
        # closed under it.
        if self._base is not None and self._thread is not None:
            self._thread.submit(self._base.dispose)

    async def close(self) -> None:
        if self._base is None or self._thread is None:
            return
        event.remove(self._engine.sync_engine, "engine_disposed", self._dispose_soon)
        thread, self._thread = self._thread, None
        # Queued after every write already handed to the thread: those finish first.
        await asyncio.get_running_loop().run_in_executor(thread, self._base.dispose)
        thread.shutdown(wait=False)
