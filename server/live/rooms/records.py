"""What rooms leave in the record — audit events, marks, chat, the session going live — written
by one background task so a room never waits on the database. Reads that must see every write
queued before them (the chat history a member gets after its welcome) run in the same queue.

Nothing is dropped (DESIGN.md §5: every join and view is audited). A write that fails is
retried, with backoff, before anything queued after it, so the log keeps its order; while the
database is away the queue grows, and once it holds ``limit`` records the hub refuses new joins
(close 1013) rather than let rooms carry on unaudited. Members already in a room still queue
their few events (each socket is rate-limited), so the queue stays bounded in practice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from server.infra.storage import ChatMessage, Store
from server.infra.storage.audit import NewAuditEvent

__all__ = ["RoomRecords"]

log = logging.getLogger("preceptor.rooms")

_QUEUE_LIMIT = 10_000
_BATCH = 500
_FIRST_RETRY_S = 0.05
_MAX_RETRY_S = 5.0
# Audit batches are retried until they are written; other writes (marks, admissions) give up
# after this many attempts, so one that can never succeed does not hold up the log for ever.
_OTHER_ATTEMPTS = 30
# A chat message's sender waits for it to be stored: after a few tries it is told instead.
_CHAT_ATTEMPTS = 3
_CLOSE_TIMEOUT_S = 10.0


Write = Callable[[], Awaitable[object]]


class RoomRecords:
    def __init__(
        self,
        store: Store,
        *,
        limit: int = _QUEUE_LIMIT,
        first_retry_s: float = _FIRST_RETRY_S,
        max_retry_s: float = _MAX_RETRY_S,
    ) -> None:
        self._store = store
        self._limit = limit
        self._first_retry_s = first_retry_s
        self._max_retry_s = max_retry_s
        # Audit events are batched into one transaction (a join audits once per member, and a
        # burst of joins must not queue behind one fsync each); other writes run in order.
        # Unbounded as a container: ``accepting`` is the bound, enforced at the room's door.
        self._queue: asyncio.Queue[NewAuditEvent | Write] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._in_flight = 0  # taken off the queue, not yet written
        self.retries = 0
        self.abandoned = 0

    @property
    def pending(self) -> int:
        """Records queued or being written."""
        return self._queue.qsize() + self._in_flight

    @property
    def accepting(self) -> bool:
        """Whether a room may take a new member: its events can still be recorded."""
        return self.pending < self._limit

    async def start(self) -> None:
        self._task = asyncio.create_task(self._write_forever(), name="room-records")

    async def close(self) -> None:
        """Write what is queued (waiting a while for a database that is away), then stop."""
        try:
            await asyncio.wait_for(self.flush(), _CLOSE_TIMEOUT_S)
        except TimeoutError:
            log.error("stopping with room records unwritten", extra={"pending": self.pending})
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def flush(self) -> None:
        await self._queue.join()

    def _put(self, write: NewAuditEvent | Write) -> None:
        if self.pending == self._limit:
            log.error("room record queue full; refusing joins until the database catches up")
        self._queue.put_nowait(write)

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

    def admit_guest(
        self, *, session_id: str, guest_id: str, then: Callable[[], None] = lambda: None
    ) -> None:
        """Store a guest's admission; ``then`` runs once it is stored."""
        at = time.time()

        async def write() -> None:
            await self._store.login_sessions.admit_guest(guest_id, session_id, now=at)
            then()

        self._put(write)

    def deny_guest(
        self,
        *,
        session_id: str,
        guest_id: str,
        then: Callable[[set[str]], Awaitable[None]],
    ) -> None:
        """End a denied guest's sign-in; ``then`` gets the login hashes that were ended."""
        at = time.time()

        async def write() -> None:
            ended = await self._store.login_sessions.revoke_guest(guest_id, session_id, now=at)
            await then(ended)

        self._put(write)

    def chat(
        self,
        message: ChatMessage,
        *,
        then: Callable[[], None],
        failed: Callable[[], None],
    ) -> None:
        """Store a chat message; ``then`` runs once it is stored (it is relayed only then), and
        ``failed`` if it could not be."""

        async def write() -> None:
            stored = await self._run(lambda: self._store.chat.add(message), attempts=_CHAT_ATTEMPTS)
            (then if stored else failed)()

        self._put(write)

    def chat_history(
        self, session_id: str, *, limit: int, then: Callable[[list[ChatMessage]], None]
    ) -> None:
        """Read the session's last ``limit`` chat messages after every write queued before."""

        found: list[list[ChatMessage]] = []

        async def read() -> None:
            found.append(await self._store.chat.recent(session_id, limit=limit))

        async def deliver() -> None:
            # Given up: the member keeps what its page shows; the next welcome tries again.
            if await self._run(read, attempts=_CHAT_ATTEMPTS):
                then(found[-1])

        self._put(deliver)

    def session_live(self, session_id: str) -> None:
        at = time.time()
        self._put(lambda: self._store.sessions.mark_live(session_id, now=at))

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < _BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            self._in_flight = len(batch)
            audits: list[NewAuditEvent] = []
            for item in batch:
                if isinstance(item, NewAuditEvent):
                    audits.append(item)
                    continue
                await self._write_audits(audits)
                audits = []
                await self._run(item, attempts=_OTHER_ATTEMPTS)
            await self._write_audits(audits)
            self._in_flight = 0
            for _ in batch:
                self._queue.task_done()

    async def _write_audits(self, audits: list[NewAuditEvent]) -> None:
        if audits:
            # One transaction: a failed batch left nothing behind, so retrying it is safe.
            await self._run(lambda: self._store.audit.append_many(audits), attempts=None)

    async def _run(self, write: Write, *, attempts: int | None) -> bool:
        """Run ``write`` until it succeeds (or, for ``attempts``, gives up), backing off;
        whether it succeeded."""
        delay = self._first_retry_s
        attempt = 0
        while True:
            attempt += 1
            try:
                await write()
                return True
            except Exception:
                if attempts is not None and attempt >= attempts:
                    self.abandoned += 1
                    log.exception("writing a room record failed; giving up")
                    return False
                self.retries += 1
                log.warning("writing a room record failed; retrying", exc_info=attempt == 1)
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_retry_s)
