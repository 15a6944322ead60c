"""The shared notes of live sessions held by this process (DESIGN.md §2 notes socket, §3b).

An update is applied here only after it is stored: what a member has seen relayed is durable.
Each document's lock is taken to check and queue an update and, once committed, it is applied
and relayed in the group commit's own step (:mod:`server.live.notes.group_commit`), never
across the commit: a document's writers share one commit instead of waiting for each other's
(Yjs updates commute; the log's order stays the truth). A batch's updates are applied in the
log's order, all in one step, so a snapshot never leaves out an update it claims to cover, and a
joining member's sync never interleaves with an update (the join race of pycrdt-websocket).
With several nodes, updates also travel on the bus; the store stays the truth, and each node
catches up from it every few seconds in case the bus dropped something (§3b).

Each room keeps its session as it stands now: ending the session closes every notes socket of
it (4410) on every node, and every change is put to the policy against the current session, so
a socket opened before the end cannot write after it. Every member's share is bounded
(:class:`NotesLimits`): the document's size, the log's size and awareness clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace

import msgspec

from server.access.policy import Action, may
from server.access.principal import Principal
from server.infra.bus import Bus, Subscription
from server.infra.storage import Session, SessionStatus
from server.live.notes.group_commit import CommitObserver, GroupCommit
from server.live.rooms.connection import SocketConnection
from session_notes import (
    AwarenessEntry,
    AwarenessUpdate,
    NewUpdate,
    NotesDocument,
    NotesMessage,
    NotesStore,
    QueryAwareness,
    SyncStep1,
    SyncStep2,
    SyncUpdate,
    awareness_frame,
    check_update,
    encode_awareness,
    parse_awareness,
    sync_step1_frame,
    sync_step2_frame,
    update_frame,
)
from signaling.close_codes import CLOSE_ENDED

__all__ = ["COMPACT_AFTER", "AwarenessRefused", "NotesFull", "NotesHub", "NotesLimits", "ReadOnly"]

log = logging.getLogger("preceptor.notes")

_EMPTY_UPDATE = b"\x00\x00"
# A room's updates since its last snapshot, kept in memory and replayed on load, until this many:
# then a snapshot replaces them (bench/soak.py waits for the first before it judges memory).
COMPACT_AFTER = 500
_CATCH_UP_S = 2.0


_MAX_REFUSALS_REMEMBERED = 10_000


class ReadOnly(Exception):
    """A member who may only read sent a change (the policy's reason is the message)."""


class NotesFull(Exception):
    """The change would take the document or its log past its cap."""


class AwarenessRefused(Exception):
    """More awareness clients than a connection or a room may hold."""


@dataclass(frozen=True)
class NotesLimits:
    """Every member's share of a session's notes (DESIGN.md §5: size and rate limits)."""

    # A joining member gets the whole document in one frame; it must fit a socket's send
    # queue (1 MiB) with room to spare.
    max_document_bytes: int = 768 * 1024
    # The log is never trimmed (it is the history): bounded per session.
    max_log_bytes: int = 16 * 1024 * 1024
    # Per connection, over update bytes: typing is a few hundred bytes a second; a paste or an
    # offline client's catch-up is one burst up to the largest update.
    update_bytes_per_s: float = 32 * 1024
    update_bytes_burst: float = 512 * 1024
    # y-websocket uses one awareness client per document and connection.
    awareness_clients_per_member: int = 4
    awareness_clients_per_room: int = 64


@dataclass(frozen=True)
class _Author:
    id: str
    name: str


class _BusMessage(msgspec.Struct, frozen=True):
    node: str
    update_id: int = 0
    update: bytes = b""
    awareness: bytes = b""
    ended: bool = False


@dataclass
class _Member:
    socket: SocketConnection
    principal: Principal
    author: _Author
    clients: dict[int, AwarenessEntry] = field(default_factory=dict)


def _ended(session: Session) -> bool:
    return session.status is SessionStatus.ENDED


@dataclass
class _NotesRoom:
    session: Session
    document: NotesDocument
    snapshot_upto: int
    last_id: int
    since_snapshot: list[bytes]
    document_bytes: int  # the snapshot's and later updates' bytes: at least the document's size
    log_bytes: int
    queued_bytes: int = 0  # updates checked against the caps, queued, not yet settled
    members: dict[str, _Member] = field(default_factory=dict)
    remote_awareness: dict[int, AwarenessEntry] = field(default_factory=dict)
    applied_ids: set[int] = field(default_factory=set)
    pruned_at: int = 0  # last_id when applied_ids last let go of ids no catch-up reads again
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    subscription: Subscription | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def session_id(self) -> str:
        return self.session.id


class NotesHub:
    def __init__(
        self,
        *,
        store: NotesStore,
        bus: Bus,
        node_id: str,
        multi_node: bool,
        clock: Callable[[], float] = time.time,
        limits: NotesLimits | None = None,
        ended_sessions: Callable[[Sequence[str]], Awaitable[list[Session]]] | None = None,
        observe_commits: CommitObserver | None = None,
    ) -> None:
        """``ended_sessions``: of the given session ids, those that ended (as stored); with
        several nodes, the catch-up asks it in case this node missed an end on the bus.
        ``observe_commits``: told of each batch the group commit stores (the node's metrics)."""
        self.limits = limits or NotesLimits()
        self._ended_sessions = ended_sessions
        self._store = store
        self._bus = bus
        self._node_id = node_id
        self._multi_node = multi_node
        self._clock = clock
        self._rooms: dict[str, _NotesRoom] = {}
        self._opening: dict[str, asyncio.Lock] = {}
        self._commits = GroupCommit(store, observe=observe_commits)
        self._refusals: OrderedDict[tuple[str, str, str], None] = OrderedDict()
        self._catching_up: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._commits.start()
        if self._multi_node:
            self._catching_up = asyncio.create_task(self._catch_up_forever())

    # --- rooms ---------------------------------------------------------------------------------

    async def _room(self, session: Session) -> _NotesRoom:
        session_id = session.id
        room = self._rooms.get(session_id)
        if room is not None:
            return room
        lock = self._opening.setdefault(session_id, asyncio.Lock())
        async with lock:
            room = self._rooms.get(session_id)
            if room is None:
                snapshot, updates = await self._store.load(session_id)
                document = NotesDocument.load(
                    snapshot.data if snapshot else None, (u.update for u in updates)
                )
                upto = snapshot.upto_id if snapshot else 0
                since = [u.update for u in updates]
                room = _NotesRoom(
                    session=session,
                    document=document,
                    snapshot_upto=upto,
                    last_id=updates[-1].id if updates else upto,
                    since_snapshot=since,
                    document_bytes=len(snapshot.data if snapshot else b"") + sum(map(len, since)),
                    log_bytes=await self._store.log_size(session_id),
                )
                self._rooms[session_id] = room
                if self._multi_node:
                    room.subscription = await self._bus.subscribe(f"notes:{session_id}")
                    room.tasks = [asyncio.create_task(self._follow_bus(room, room.subscription))]
        self._opening.pop(session_id, None)
        return room

    async def text(self, session_id: str) -> str:
        """The current text (loading the document if no member has it open)."""
        room = self._rooms.get(session_id)
        if room is not None:
            return room.document.text
        snapshot, updates = await self._store.load(session_id)
        return NotesDocument.load(
            snapshot.data if snapshot else None, (u.update for u in updates)
        ).text

    @property
    def open_documents(self) -> int:
        return len(self._rooms)

    def members(self, session_id: str) -> int:
        """The sockets open on a session's notes here."""
        room = self._rooms.get(session_id)
        return 0 if room is None else len(room.members)

    # --- members -------------------------------------------------------------------------------

    async def join(
        self,
        session: Session,
        socket: SocketConnection,
        principal: Principal,
    ) -> None:
        """y-websocket's greeting: our state vector (sync step 1) and who else is here.
        ``session`` is the session as the socket's handshake found it."""
        room = await self._room(session)
        async with room.lock:
            if self._rooms.get(session.id) is not room:
                # The last member left while we waited for the lock, and the room was unloaded
                # with them: a member added to it would be in no room (KeyError on its first
                # message, seen under load in bench/soak.py). Open the room anew.
                return await self.join(session, socket, principal)
            if _ended(session) and not _ended(room.session):
                # This node missed the end (the bus may drop messages): end the room now.
                self._end_room(room, session)
            elif _ended(room.session) and not _ended(session):
                # Opened before the end, joining after it: it goes the way of the others.
                socket.close(CLOSE_ENDED, "session ended")
                return
            author = _Author(principal.id, principal.name)
            room.members[socket.id] = _Member(socket, principal, author)
            socket.send(sync_step1_frame(room.document.state_vector()))
            states = self._awareness_states(room, exclude=socket.id)
            if states:
                socket.send(awareness_frame(encode_awareness(states)))

    async def leave(self, session_id: str, socket: SocketConnection) -> None:
        room = self._rooms.get(session_id)
        if room is None:
            return
        member = room.members.pop(socket.id, None)
        if member is not None and member.clients:
            # Tell the others this member's cursors are gone (state null, clock + 1).
            gone = [AwarenessEntry(c, e.clock + 1, "null") for c, e in member.clients.items()]
            await self._share_awareness(room, encode_awareness(gone), exclude=socket.id)
        if not room.members:
            await self._unload(room)

    async def end(self, session: Session) -> None:
        """``session`` ended (as loaded before or after its end): every notes socket of it
        closes (4410), here and on every other node; later changes are put to the policy
        against the ended session."""
        room = self._rooms.get(session.id)
        if room is not None:
            async with room.lock:
                self._end_room(room, session)
        if self._multi_node:
            message = _BusMessage(self._node_id, ended=True)
            await self._bus.publish(f"notes:{session.id}", msgspec.msgpack.encode(message))

    def _end_room(self, room: _NotesRoom, session: Session) -> None:
        room.session = session if _ended(session) else replace(session, status=SessionStatus.ENDED)
        for member in room.members.values():
            member.socket.close(CLOSE_ENDED, "session ended")

    async def handle(
        self, session_id: str, socket: SocketConnection, message: NotesMessage
    ) -> bool:
        """Handle one message; True when it changed the notes of a session that had ended (the
        caller audits that). Raises :class:`InvalidUpdate`, :class:`ReadOnly`,
        :class:`NotesFull` or :class:`AwarenessRefused`; the socket closes on any."""
        room = self._rooms[session_id]
        member = room.members[socket.id]
        match message:
            case SyncStep1(state_vector=state_vector):
                async with room.lock:
                    socket.send(sync_step2_frame(room.document.missing_for(state_vector)))
            case SyncStep2(update=update) | SyncUpdate(update=update):
                if update == _EMPTY_UPDATE:
                    return False
                return await self._accept_update(room, member, update)
            case AwarenessUpdate(payload=payload, entries=entries):
                self._check_awareness(room, member, entries)
                for entry in entries:
                    member.clients[entry.client_id] = entry
                await self._share_awareness(room, payload, exclude=socket.id)
            case QueryAwareness():
                states = self._awareness_states(room, exclude=None)
                socket.send(awareness_frame(encode_awareness(states)))
        return False

    def first_refusal(self, session_id: str, actor_id: str, action: str) -> bool:
        """Whether this refusal is the first of its kind for this member (audited once: a
        client that reconnects and retries must not grow the audit log)."""
        key = (session_id, actor_id, action)
        if key in self._refusals:
            return False
        self._refusals[key] = None
        if len(self._refusals) > _MAX_REFUSALS_REMEMBERED:
            self._refusals.popitem(last=False)
        return True

    async def _accept_update(self, room: _NotesRoom, member: _Member, update: bytes) -> bool:
        check_update(update)
        size = len(update)
        if room.document_bytes + room.queued_bytes + size > self.limits.max_document_bytes:
            # The count only grows between snapshots: a snapshot may show there is room.
            await self._compact_quietly(room)
        async with room.lock:
            # Asked on every change, with the session as it is now (it may have ended).
            decision = may(member.principal, Action.NOTES_EDIT, room.session)
            if not decision:
                raise ReadOnly(decision.reason or "these notes are read-only for you")
            # Updates queued but not yet committed count against the caps too.
            if room.log_bytes + room.queued_bytes + size > self.limits.max_log_bytes:
                raise NotesFull("the notes' history is full")
            if room.document_bytes + room.queued_bytes + size > self.limits.max_document_bytes:
                raise NotesFull("the notes are full")
            author = member.socket.id

            def settled(update_id: int | None) -> None:
                room.queued_bytes -= size
                if update_id is not None:
                    # Stored first: a store that fails settles with None and nobody sees it.
                    self._apply_committed(room, author, update_id, update)

            # Queued under the lock (a session ended meanwhile is seen by the next update);
            # committed, applied and relayed without it.
            room.queued_bytes += size
            try:
                committed = await self._commits.queue(
                    NewUpdate(
                        room.session_id, update, member.author.id, member.author.name, self._clock()
                    ),
                    settled,
                )
            except BaseException:
                room.queued_bytes -= size  # never queued (cancelled while the queue was full)
                raise
        update_id = await committed
        if self._multi_node:
            message = _BusMessage(self._node_id, update_id=update_id, update=update)
            await self._bus.publish(f"notes:{room.session_id}", msgspec.msgpack.encode(message))
        if len(room.since_snapshot) >= COMPACT_AFTER:
            await self._compact_quietly(room)
        return _ended(room.session)

    def _apply_committed(
        self, room: _NotesRoom, author: str, update_id: int, update: bytes
    ) -> None:
        """A member's update is committed: into the document and to every other member here.
        Runs in the group commit's step, not under the lock (no await can split it)."""
        current = self._rooms.get(room.session_id)
        if current is not room:
            # The room was unloaded while the update was committed: the log has it for whoever
            # loads the document next; a room loaded since, before the commit, lacks it.
            if current is None or update_id <= current.last_id:
                return
            room = current
        if update_id in room.applied_ids:
            return  # a catch-up read it from the store first
        room.document.apply_checked(update)  # checked by _accept_update
        self._note_applied(room, update_id, update)
        frame = update_frame(update)
        for key, other in room.members.items():
            if key != author:
                other.socket.send(frame)

    def _note_applied(self, room: _NotesRoom, update_id: int, update: bytes) -> None:
        room.applied_ids.add(update_id)
        room.since_snapshot.append(update)
        room.document_bytes += len(update)
        room.log_bytes += len(update)
        room.last_id = max(room.last_id, update_id)
        # Ids count every session's updates: pruned as the ids advance, not as this room's set
        # grows (its cap of 10,000 held ~1 MiB per room, issue 13's soak).
        if room.last_id - room.pruned_at > 5_000:
            floor, room.pruned_at = room.last_id - 5_000, room.last_id
            room.applied_ids = {i for i in room.applied_ids if i > floor}

    # --- awareness -----------------------------------------------------------------------------

    def _check_awareness(
        self, room: _NotesRoom, member: _Member, entries: tuple[AwarenessEntry, ...]
    ) -> None:
        new = {e.client_id for e in entries} - member.clients.keys()
        if not new:
            return
        if len(member.clients) + len(new) > self.limits.awareness_clients_per_member:
            raise AwarenessRefused("too many awareness clients on one connection")
        if self._awareness_count(room) + len(new) > self.limits.awareness_clients_per_room:
            raise AwarenessRefused("too many awareness clients in these notes")

    @staticmethod
    def _awareness_count(room: _NotesRoom) -> int:
        local = sum(len(m.clients) for m in room.members.values())
        return local + sum(1 for e in room.remote_awareness.values() if e.state != "null")

    def _remember_remote(self, room: _NotesRoom, entry: AwarenessEntry) -> None:
        remote = room.remote_awareness
        if entry.client_id in remote or entry.state == "null":
            if entry.state == "null":
                remote.pop(entry.client_id, None)
            else:
                remote[entry.client_id] = entry
            return
        if self._awareness_count(room) < self.limits.awareness_clients_per_room:
            remote[entry.client_id] = entry

    def _awareness_states(self, room: _NotesRoom, exclude: str | None) -> list[AwarenessEntry]:
        states = [
            entry
            for key, member in room.members.items()
            if key != exclude
            for entry in member.clients.values()
            if entry.state != "null"
        ]
        return states + [e for e in room.remote_awareness.values() if e.state != "null"]

    async def _share_awareness(self, room: _NotesRoom, payload: bytes, exclude: str) -> None:
        frame = awareness_frame(payload)
        for key, member in room.members.items():
            if key != exclude:
                member.socket.send(frame)
        if self._multi_node:
            message = _BusMessage(self._node_id, awareness=payload)
            await self._bus.publish(f"notes:{room.session_id}", msgspec.msgpack.encode(message))

    # --- other nodes ---------------------------------------------------------------------------

    async def _follow_bus(self, room: _NotesRoom, subscription: Subscription) -> None:
        async for data in subscription:
            try:
                message = msgspec.msgpack.decode(data, type=_BusMessage)
                if message.node == self._node_id:
                    continue
                if message.update:
                    async with room.lock:
                        if message.update_id not in room.applied_ids:
                            self._apply_remote(room, message.update_id, message.update)
                if message.ended:
                    async with room.lock:
                        self._end_room(room, room.session)
                if message.awareness:
                    for entry in parse_awareness(message.awareness):
                        self._remember_remote(room, entry)
                    frame = awareness_frame(message.awareness)
                    for member in room.members.values():
                        member.socket.send(frame)
            except Exception:
                log.exception("bad notes message on the bus")

    def _apply_remote(self, room: _NotesRoom, update_id: int, update: bytes) -> None:
        room.document.apply(update)
        self._note_applied(room, update_id, update)
        frame = update_frame(update)
        for member in room.members.values():
            member.socket.send(frame)

    async def _catch_up_forever(self) -> None:
        """Every few seconds, for every document open here at once: what the store has that the
        bus did not bring, and which sessions ended unannounced. One read of each kind per turn
        for the whole node (one of each per room and turn was most of a node's time with 200
        rooms open: issue 13)."""
        while True:
            await asyncio.sleep(_CATCH_UP_S)
            rooms = list(self._rooms.values())
            if not rooms:
                continue
            try:
                await self._catch_up(rooms)
                await self._recheck_sessions(rooms)
            except Exception as exc:
                log.warning("notes catch-up failed", extra={"error": type(exc).__name__})

    async def _recheck_sessions(self, rooms: list[_NotesRoom]) -> None:
        """The bus may drop the end like any message (§3b): the store says whether it came."""
        live = [room.session_id for room in rooms if not _ended(room.session)]
        if self._ended_sessions is None or not live:
            return
        for ended in await self._ended_sessions(live):
            room = self._rooms.get(ended.id)
            if room is None:
                continue
            async with room.lock:
                if not _ended(room.session):
                    self._end_room(room, ended)

    async def catch_up(self, session_id: str) -> int:
        """Apply what the store has and this node missed; how many updates that was."""
        room = self._rooms.get(session_id)
        return 0 if room is None else await self._catch_up([room])

    async def _catch_up(self, rooms: list[_NotesRoom]) -> int:
        # Ids can commit out of order across nodes: look back a little past our newest.
        after = {room.session_id: max(room.snapshot_upto, room.last_id - 1000) for room in rooms}
        stored = await self._store.updates_after(after)
        applied = 0
        for room in rooms:
            missed = [u for u in stored.get(room.session_id, ()) if u.id not in room.applied_ids]
            if not missed or self._rooms.get(room.session_id) is not room:
                continue
            async with room.lock:
                for update in missed:
                    if update.id not in room.applied_ids:
                        self._apply_remote(room, update.id, update.update)
                        applied += 1
        return applied

    # --- compaction ----------------------------------------------------------------------------

    async def compact(self, session_id: str) -> None:
        room = self._rooms.get(session_id)
        if room is not None:
            await self._compact(room)
            return
        # Not open here: load, snapshot, done.
        snapshot, updates = await self._store.load(session_id)
        if not updates:
            return
        document = NotesDocument.load(
            snapshot.data if snapshot else None, (u.update for u in updates)
        )
        if not document.has_pending([u.update for u in updates]):
            await self._store.save_snapshot(
                session_id, document.snapshot(), updates[-1].id, self._clock()
            )

    async def _compact(self, room: _NotesRoom) -> None:
        async with room.lock:
            if not room.since_snapshot or room.document.has_pending(room.since_snapshot):
                # A pending update would be lost from the snapshot (§3b): wait until it resolves.
                return
            snapshot, upto = room.document.snapshot(), room.last_id
            room.since_snapshot = []
            room.document_bytes = len(snapshot)
        await self._store.save_snapshot(room.session_id, snapshot, upto, self._clock())
        room.snapshot_upto = upto

    async def _compact_quietly(self, room: _NotesRoom) -> None:
        """Compaction only makes loading faster: the update that triggered it is already stored
        and relayed, so a snapshot the database refuses costs the member nothing (issue 13)."""
        try:
            await self._compact(room)
        except Exception as exc:
            log.warning(
                "compacting notes failed; the log still holds every update",
                extra={"error": type(exc).__name__},
            )

    async def _unload(self, room: _NotesRoom) -> None:
        self._rooms.pop(room.session_id, None)
        for task in room.tasks:
            task.cancel()
        if room.subscription is not None:
            room.subscription.close()
        await self._compact_quietly(room)

    async def close(self) -> None:
        if self._catching_up is not None:
            self._catching_up.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._catching_up
        for room in list(self._rooms.values()):
            with contextlib.suppress(Exception):
                await self._unload(room)
        await self._commits.close()
