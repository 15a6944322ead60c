"""Group commit for notes updates: one durable transaction for everything that arrived while
the previous one was being written.

An fsync'd SQLite transaction costs a few milliseconds, so one commit per keystroke caps a
process at a few hundred updates per second across all documents. Batching keeps each writer's
wait at about one commit while the throughput grows with the batch (DESIGN.md §3b).

What a batch's rows become once committed is decided by their ``settled`` callbacks, called in
id order, one after the other, in the same step as the commit's return: no other task runs
between two rows of a batch, so nothing ever sees a later row applied without an earlier one
(a snapshot taken then would leave the earlier row out). The writer keeps one connection of
the store checked out across batches (:meth:`NotesStore.batch_writer`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from session_notes import BatchWriter, NewUpdate, NotesStore

__all__ = ["CommitObserver", "GroupCommit", "Settled"]

log = logging.getLogger("preceptor.notes")

_MAX_BATCH = 500

Settled = Callable[[int | None], None]
"""Called once a row's batch is settled: with its id once it is committed, with None if the
store refused the batch. Called even when whoever appended the row stopped waiting for it (a
socket that closed): a committed row is in the log whether or not its author heard back."""


CommitObserver = Callable[[float, float, int], None]
"""Told of each batch committed: its commit's seconds, the seconds since its oldest row was
queued, and how many rows it held (the node's metrics)."""


@dataclass(slots=True)  # not frozen: one is made per update, and a frozen __init__ costs more
class _Queued:
    row: NewUpdate
    done: asyncio.Future[int]
    settled: Settled | None
    queued_at: float  # time.monotonic()


class GroupCommit:
    def __init__(
        self,
        store: NotesStore,
        *,
        max_queue: int = 10_000,
        observe: CommitObserver | None = None,
    ) -> None:
        self._store = store
        self._observe = observe
        self._queue: asyncio.Queue[_Queued] = asyncio.Queue(max_queue)
        self._task: asyncio.Task[None] | None = None
        self._unbatched: set[asyncio.Task[None]] = set()
        self.batches = 0
        """Batches written (one fsync'd transaction each) since the start."""

    def start(self) -> None:
        self._task = asyncio.create_task(self._write_forever(), name="notes-group-commit")

    async def close(self, timeout_s: float = 5.0) -> None:
        if self._task is not None:
            # A drain's in-flight writes are queued here: write them before stopping.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout_s):
                    await self._queue.join()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def append(self, row: NewUpdate, settled: Settled | None = None) -> int:
        """Store ``row`` durably; returns its id once committed. Raises what the store raised.
        ``settled`` (see :data:`Settled`) runs before this returns."""
        return await (await self.queue(row, settled))

    async def queue(self, row: NewUpdate, settled: Settled | None = None) -> asyncio.Future[int]:
        """Queue ``row`` (waiting only while the queue is full); the future of its id, set once
        committed (or the store's error). A caller that cancels the future cancels only its
        wait: the row is still written, and ``settled`` still runs."""
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        queued = _Queued(row, done, settled, time.monotonic())
        if self._task is None:
            # Not started (a hub used without its lifespan): one row, one transaction.
            task = asyncio.get_running_loop().create_task(self._write(self._store, [queued]))
            self._unbatched.add(task)
            task.add_done_callback(self._unbatched.discard)
        else:
            await self._queue.put(queued)
        return done

    async def _write_forever(self) -> None:
        writer = self._store.batch_writer()
        try:
            while True:
                batch = [await self._queue.get()]
                while len(batch) < _MAX_BATCH and not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                try:
                    await self._write(writer, batch)
                finally:
                    for _ in batch:
                        self._queue.task_done()
        finally:
            await writer.close()

    async def _write(self, writer: BatchWriter | NotesStore, batch: list[_Queued]) -> None:
        started = time.monotonic()
        try:
            ids = await writer.append_many([queued.row for queued in batch])
        except Exception as exc:
            log.error("storing notes updates failed", extra={"error": type(exc).__name__})
            for queued in batch:
                _settle(queued, None)
                if not queued.done.done():
                    queued.done.set_exception(exc)
            return
        self.batches += 1
        if self._observe is not None:
            committed = time.monotonic()
            self._observe(committed - started, committed - batch[0].queued_at, len(batch))
        # No await from here to the end: the whole batch settles in one step (module doc).
        for queued, update_id in zip(batch, ids, strict=True):
            _settle(queued, update_id)
            if not queued.done.done():
                queued.done.set_result(update_id)


def _settle(queued: _Queued, update_id: int | None) -> None:
    if queued.settled is None:
        return
    try:
        queued.settled(update_id)
    except Exception:
        # One row's follow-up failing must not keep the batch's other rows from settling.
        log.exception("settling a committed notes update failed")
