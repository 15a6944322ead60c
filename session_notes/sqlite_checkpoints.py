"""SQLite's WAL checkpoints kept off the notes' group commit (bench/README.md, notes).

In WAL mode, the connection whose commit takes the log past ``wal_autocheckpoint`` pages (1,000
by default) copies the log into the database file and fsyncs it before its commit returns. A
group commit's batch writes about a page per document it touches (the ``(session_id, id)``
index), so at 2,000 updates a second that was every ~85 batches; on a busy disk such a batch,
and every update queued behind it, waited up to 0.4 s for the checkpoint (a batch's p99 59 ms
against 12 to 23 ms with checkpoints beside it, in one run on this machine).

So the group commit's own connection checkpoints only as a backstop (:data:`BACKSTOP_PAGES`),
and every few batches a checkpoint runs on another connection of the pool, held for them (a
checkout and its reset each time cost more than the checkpoint's own trip), on that
connection's own thread, beside the writer: WAL lets a checkpoint run while a writer appends
(``PASSIVE`` waits for nobody). Durability is unchanged: a commit is durable once the log is fsync'd
(``synchronous=FULL``); a checkpoint only moves what is durable already.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from session_notes.sqlite_append import driver_of

__all__ = ["BACKSTOP_PAGES", "Checkpoints"]

log = logging.getLogger("preceptor.notes")

BACKSTOP_PAGES = 4000
"""The writer checkpoints itself only past this many log pages (16 MiB): if the checkpoints
beside it fall behind, the log still stays bounded."""

_EVERY_BATCHES = 16


class Checkpoints:
    """The checkpoints of one group commit's writer: :meth:`take_over` its connection, call
    :meth:`after_batch` after each batch it commits, :meth:`give_back` the connection before it
    returns to the pool, and :meth:`close` when the writer is done."""

    def __init__(self, engine: AsyncEngine, *, every_batches: int = _EVERY_BATCHES) -> None:
        self._engine = engine
        self._every = every_batches
        self._batches = 0
        self._running: asyncio.Task[None] | None = None
        self._writer_default: int | None = None
        self._connection: AsyncConnection | None = None  # the checkpoints' own, once needed
        self._driver: Any = None

    async def take_over(self, writer: AsyncConnection) -> None:
        """From now on ``writer`` checkpoints only past :data:`BACKSTOP_PAGES`."""
        driver = await driver_of(writer)
        (default,) = (await driver.execute_fetchall("PRAGMA wal_autocheckpoint"))[0]
        await driver.execute_fetchall(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
        self._writer_default = int(default)

    async def give_back(self, writer: AsyncConnection) -> None:
        """``writer`` checkpoints as every pooled connection does again."""
        if self._writer_default is None:
            return
        driver = await driver_of(writer)
        await driver.execute_fetchall(f"PRAGMA wal_autocheckpoint={self._writer_default}")
        self._writer_default = None

    def after_batch(self) -> None:
        """Every few batches, start a checkpoint beside the writer (one at a time)."""
        self._batches += 1
        if self._batches < self._every or (self._running and not self._running.done()):
            return
        self._batches = 0
        self._running = asyncio.create_task(self._checkpoint(), name="notes-wal-checkpoint")

    async def _checkpoint(self) -> None:
        try:
            if self._driver is None:
                self._connection = await self._engine.connect()
                self._driver = await driver_of(self._connection)
            await self._driver.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
        except Exception as exc:
            # Only the log's length depends on it (and the writer's backstop bounds that).
            log.warning("checkpointing the notes log failed", extra={"error": type(exc).__name__})
            await self._let_go(broken=True)

    async def _let_go(self, *, broken: bool = False) -> None:
        connection, self._connection, self._driver = self._connection, None, None
        if connection is None:
            return
        with contextlib.suppress(Exception):
            if broken:
                await connection.invalidate()  # never back to the pool in an unknown state
            await connection.close()

    async def close(self) -> None:
        running, self._running = self._running, None
        if running is not None:
            # A checkpoint cannot be cut short in the driver's thread: let it finish.
            with contextlib.suppress(asyncio.CancelledError):
                await running
        await self._let_go()
