"""What rooms leave in the record — audit events, marks, chat, the session going live — written
by one background task so a room never waits on the database. Reads that must see every write
queued before them (the chat a room's tail starts from, ``chat_tail.py``) run in the same queue.

What a burst of joins queues (per member an audit event, per room the session going live and
the read its chat tail starts from) is written together: the audit events of a batch in one
transaction, the sessions going live in another, and the reads side by side (``Reads`` takes
them to the database in one trip), not one transaction or trip each (issue 8: a burst of 100
joins spent more of the loop on its records than on the joins). Writes that carry an order
(marks, chat, admissions) still run one at a time, in the order queued, after everything queued
before them; a read runs before any such write queued after it.

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
from dataclasses import dataclass, field

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


@dataclass(frozen=True)
class _Read:
    """A read: it sees every write queued before it, and no ordered write (chat, marks,
    admissions) queued after it."""

    run: Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class _WentLive:
    session_id: str
    at: float


_Item = NewAuditEvent | _WentLive | _Read | Write


@dataclass
class _Unordered:
    """What a batch holds that needs no order among its kind or against reads: written
    together before the batch's next ordered write, and at its end."""

    audits: list[NewAuditEvent] = field(default_factory=list)
    went_live: list[_WentLive] = field(default_factory=list)
    reads: list[_Read] = field(default_factory=list)


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
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
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

    def _put(self, write: _Item) -> None:
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

    def chat_tail(
        self,
        session_id: str,
        *,
        limit: int,
        then: Callable[[list[ChatMessage], list[ChatMessage]], None],
        failed: Callable[[], None],
    ) -> None:
        """Read what a room's chat tail starts from (``ChatTail.load``), after every write
        queued before: the session's last ``limit`` messages everyone may read, and its last
        ``limit`` of all (oldest first)."""
        chat = self._store.chat
        found: list[tuple[list[ChatMessage], list[ChatMessage]]] = []

        async def read() -> None:
            every_audience = await chat.recent(
                session_id, limit=limit, audiences=("everyone", "mentors")
            )
            if len(every_audience) < limit:  # all there is: no second read (most rooms)
                everyone = [m for m in every_audience if m.audience == "everyone"]
            else:
                everyone = await chat.recent(session_id, limit=limit, audiences=("everyone",))
            found.append((everyone, every_audience))

        async def deliver() -> None:
            if await self._run(read, attempts=_CHAT_ATTEMPTS):
                then(*found[-1])
            else:
                failed()

        self._put(_Read(deliver))

    def after(self, then: Callable[[], None]) -> None:
        """Run ``then`` once every write queued before is done (and before any ordered write
        queued after)."""

        async def run() -> None:
            then()

        self._put(_Read(run))

    def session_live(self, session_id: str) -> None:
        self._put(_WentLive(session_id, time.time()))

    async def _write_forever(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < _BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            self._in_flight = len(batch)
            unordered = _Unordered()
            for item in batch:
                if isinstance(item, NewAuditEvent):
                    unordered.audits.append(item)
                elif isinstance(item, _WentLive):
                    unordered.went_live.append(item)
                elif isinstance(item, _Read):
                    unordered.reads.append(item)
                else:
                    await self._settle(unordered)
                    unordered = _Unordered()
                    await self._run(item, attempts=_OTHER_ATTEMPTS)
            await self._settle(unordered)
            self._in_flight = 0
            for _ in batch:
                self._queue.task_done()

    async def _settle(self, unordered: _Unordered) -> None:
        """Write what ``unordered`` holds, then run its reads (together: each sees all that was
        queued before it, and the next ordered write waits for them)."""
        if unordered.went_live:
            went_live = [(w.session_id, w.at) for w in unordered.went_live]
            await self._run(
                lambda: self._store.sessions.mark_live_many(went_live), attempts=_OTHER_ATTEMPTS
            )
        if unordered.audits:
            # One transaction: a failed batch left nothing behind, so retrying it is safe.
            audits = unordered.audits
            await self._run(lambda: self._store.audit.append_many(audits), attempts=None)
        if unordered.reads:
            outcomes = await asyncio.gather(
                *(read.run() for read in unordered.reads), return_exceptions=True
            )
            for outcome in outcomes:
                if isinstance(outcome, Exception):
                    log.error("delivering a room read failed", exc_info=outcome)

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
