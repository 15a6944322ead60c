"""What rooms leave in the record — audit events, marks, the session going live — written by
one background task so a room never waits on the database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from server.infra.storage import Store
from server.infra.storage.audit import NewAuditEvent

__all__ = ["RoomRecords"]

log = logging.getLogger("preceptor.rooms")

_QUEUE_SIZE = 10_000
_BATCH = 500


Write = Callable[[], Awaitable[object]]


class RoomRecords:
    def __init__(self, store: Store) -> None:
        self._store = store
        # Audit events are batched into one transaction (a join audits once per member, and a
        # burst of joins must not queue behind one fsync each); other writes run in order.
        self._queue: asyncio.Queue[NewAuditEvent | Write] = asyncio.Queue(_QUEUE_SIZE)
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._write_forever(), name="room-records")

    async def close(self) -> None:
        """Write what is queued, then stop."""
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def flush(self) -> None:
        await self._queue.join()

    def _put(self, write: NewAuditEvent | Write) -> None:
        try:
            self._queue.put_nowait(write)
        except asyncio.QueueFull:
            self.dropped += 1
            log.error("room record queue full; a record was dropped")

    def audit(
        self, action: str, *, session_id: str, actor_id: str | None, detail: dict[str, str]
    ) -> None:
        self._put(
            NewAuditEvent(
                f"room.{action}",
                actor_id=actor_id,
                target=session_id,
                detail=detail,
                at=time.time(),
            )
        )

    def mark(
        self,
        *,
        mark_id: str,
        session_id: str,
        label: str,
        tags: tuple[str, ...],
        at_ms: int,
        by: str,
        then: Callable[[], None] = lambda: None,
    ) -> None:
        """Store a mark; ``then`` runs once it is stored (the mentor is told only then, so a
        form can cite the mark at once)."""

        async def write() -> None:
            await self._store.marks.add(
                mark_id=mark_id,
                session_id=session_id,
                label=label,
                tags=tags,
                at_ms=at_ms,
                by_subject=by,
            )
            then()

        self._put(write)

    def session_live(self, session_id: str) -> None:
        at = time.time()
        self._put(lambda: self._store.sessions.mark_live(session_id, now=at))

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < _BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            audits: list[NewAuditEvent] = []
            for item in batch:
                if isinstance(item, NewAuditEvent):
                    audits.append(item)
                    continue
                await self._write_audits(audits)
                audits = []
                await self._run(item)
            await self._write_audits(audits)
            for _ in batch:
                self._queue.task_done()

    async def _write_audits(self, audits: list[NewAuditEvent]) -> None:
        if audits:
            await self._run(lambda: self._store.audit.append_many(audits))

    async def _run(self, write: Write) -> None:
        try:
            await write()
        except Exception:
            log.exception("writing a room record failed")
