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

from collections.abc import Callable
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from server.infra.storage.engine import configure_sqlite, for_writing
from server.infra.storage.thread_engine import ThreadEngine

__all__ = ["Writes"]

T = TypeVar("T")


class Writes:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._side = ThreadEngine.over(engine, configure_sqlite, "sql-writes")
        self._writer = for_writing(self._side.engine) if self._side is not None else None

    @property
    def engine(self) -> sa.Engine:
        """The engine whose connections run the writes (for event listeners)."""
        return self._side.engine if self._side is not None else self._engine.sync_engine

    async def run(self, write: Callable[[sa.Connection], T]) -> T:
        """``write(connection)``'s result, in one transaction: committed if it returns, rolled
        back if it raises."""
        if self._side is None or self._writer is None:
            async with for_writing(self._engine).begin() as connection:
                return await connection.run_sync(write)
        return await self._side.run(self._transaction, self._writer, write)

    @staticmethod
    def _transaction(engine: sa.Engine, write: Callable[[sa.Connection], T]) -> T:
        with engine.begin() as connection:
            return write(connection)

    async def close(self) -> None:
        side, self._side, self._writer = self._side, None, None
        if side is not None:
            await side.close()
