"""Group commit for notes updates: one durable transaction for everything that arrived while
the previous one was being written.

An fsync'd SQLite transaction costs a few milliseconds, so one commit per keystroke caps a
process at a few hundred updates per second across all documents. Batching keeps each writer's
wait at about one commit while the throughput grows with the batch (DESIGN.md §3b).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from session_notes import NewUpdate, NotesStore

__all__ = ["GroupCommit"]

log = logging.getLogger("preceptor.notes")

_MAX_BATCH = 500


class GroupCommit:
    def __init__(self, store: NotesStore, *, max_queue: int = 10_000) -> None:
        self._store = store
        self._queue: asyncio.Queue[tuple[NewUpdate, asyncio.Future[int]]] = asyncio.Queue(max_queue)
        self._task: asyncio.Task[None] | None = None

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

    async def append(self, row: NewUpdate) -> int:
        """Store ``row`` durably; returns its id once committed. Raises what the store raised."""
        if self._task is None:
            return (await self._store.append_many([row]))[0]
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        await self._queue.put((row, done))
        return await done

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < _MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                ids = await self._store.append_many([row for row, _ in batch])
            except Exception as exc:
                log.error("storing notes updates failed", extra={"error": type(exc).__name__})
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
            else:
                for (_, done), update_id in zip(batch, ids, strict=True):
                    if not done.done():
                        done.set_result(update_id)
            for _ in batch:
                self._queue.task_done()
