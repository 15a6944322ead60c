"""The shared notes of live sessions held by this process (DESIGN.md §2 notes socket, §3b).

An update is applied here only after it is stored: what a member has seen relayed is durable.
Each document's updates go through one lock, so the stored order is the applied order and a
joining member's sync never interleaves with an update (the join race of pycrdt-websocket).
With several nodes, updates also travel on the bus; the store stays the truth, and each node
catches up from it every few seconds in case the bus dropped something (§3b).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

from server.infra.bus import Bus, Subscription
from server.live.notes.group_commit import GroupCommit
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

__all__ = ["Author", "NotesHub", "ReadOnly"]

log = logging.getLogger("preceptor.notes")

_EMPTY_UPDATE = b"\x00\x00"
_COMPACT_AFTER = 500
_CATCH_UP_S = 2.0


class ReadOnly(Exception):
    """A member who may only read sent a change."""


@dataclass(frozen=True)
class Author:
    id: str
    name: str


class _BusMessage(msgspec.Struct, frozen=True):
    node: str
    update_id: int = 0
    update: bytes = b""
    awareness: bytes = b""


@dataclass
class _Member:
    socket: SocketConnection
    author: Author
    can_edit: bool
    clients: dict[int, AwarenessEntry] = field(default_factory=dict)


@dataclass
class _NotesRoom:
    session_id: str
    document: NotesDocument
    snapshot_upto: int
    last_id: int
    since_snapshot: list[bytes]
    members: dict[str, _Member] = field(default_factory=dict)
    remote_awareness: dict[int, AwarenessEntry] = field(default_factory=dict)
    applied_ids: set[int] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    subscription: Subscription | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


class NotesHub:
    def __init__(
        self,
        *,
        store: NotesStore,
        bus: Bus,
        node_id: str,
        multi_node: bool,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._bus = bus
        self._node_id = node_id
        self._multi_node = multi_node
        self._clock = clock
        self._rooms: dict[str, _NotesRoom] = {}
        self._opening: dict[str, asyncio.Lock] = {}
        self._commits = GroupCommit(store)

    def start(self) -> None:
        self._commits.start()

    # --- rooms ---------------------------------------------------------------------------------

    async def _room(self, session_id: str) -> _NotesRoom:
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
                room = _NotesRoom(
                    session_id=session_id,
                    document=document,
                    snapshot_upto=upto,
                    last_id=updates[-1].id if updates else upto,
                    since_snapshot=[u.update for u in updates],
                )
                self._rooms[session_id] = room
                if self._multi_node:
                    room.subscription = await self._bus.subscribe(f"notes:{session_id}")
                    room.tasks = [
                        asyncio.create_task(self._follow_bus(room, room.subscription)),
                        asyncio.create_task(self._catch_up_forever(room)),
                    ]
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

    # --- members -------------------------------------------------------------------------------

    async def join(
        self, session_id: str, socket: SocketConnection, author: Author, *, can_edit: bool
    ) -> None:
        """y-websocket's greeting: our state vector (sync step 1) and who else is here."""
        room = await self._room(session_id)
        async with room.lock:
            room.members[socket.id] = _Member(socket, author, can_edit)
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

    async def handle(
        self, session_id: str, socket: SocketConnection, message: NotesMessage
    ) -> None:
        """Raises :class:`InvalidUpdate` or :class:`ReadOnly`; the socket closes on either."""
        room = self._rooms[session_id]
        member = room.members[socket.id]
        match message:
            case SyncStep1(state_vector=state_vector):
                async with room.lock:
                    socket.send(sync_step2_frame(room.document.missing_for(state_vector)))
            case SyncStep2(update=update) | SyncUpdate(update=update):
                if update == _EMPTY_UPDATE:
                    return
                if not member.can_edit:
                    raise ReadOnly("these notes are read-only for you")
                await self._accept_update(room, member, update)
            case AwarenessUpdate(payload=payload, entries=entries):
                for entry in entries:
                    member.clients[entry.client_id] = entry
                await self._share_awareness(room, payload, exclude=socket.id)
            case QueryAwareness():
                states = self._awareness_states(room, exclude=None)
                socket.send(awareness_frame(encode_awareness(states)))

    async def _accept_update(self, room: _NotesRoom, member: _Member, update: bytes) -> None:
        check_update(update)
        async with room.lock:
            update_id = await self._commits.append(
                NewUpdate(
                    room.session_id, update, member.author.id, member.author.name, self._clock()
                )
            )
            # Stored first: a store that fails raises here and nobody sees the change.
            room.document.apply(update)
            self._note_applied(room, update_id, update)
            frame = update_frame(update)
            for other in room.members.values():
                if other is not member:
                    other.socket.send(frame)
        if self._multi_node:
            message = _BusMessage(self._node_id, update_id=update_id, update=update)
            await self._bus.publish(f"notes:{room.session_id}", msgspec.msgpack.encode(message))
        if len(room.since_snapshot) >= _COMPACT_AFTER:
            await self._compact(room)

    def _note_applied(self, room: _NotesRoom, update_id: int, update: bytes) -> None:
        room.applied_ids.add(update_id)
        room.since_snapshot.append(update)
        room.last_id = max(room.last_id, update_id)
        if len(room.applied_ids) > 10_000:
            floor = room.last_id - 5_000
            room.applied_ids = {i for i in room.applied_ids if i > floor}

    # --- awareness -----------------------------------------------------------------------------

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
                if message.awareness:
                    for entry in parse_awareness(message.awareness):
                        room.remote_awareness[entry.client_id] = entry
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

    async def _catch_up_forever(self, room: _NotesRoom) -> None:
        while True:
            await asyncio.sleep(_CATCH_UP_S)
            try:
                await self.catch_up(room.session_id)
            except Exception as exc:
                log.warning("notes catch-up failed", extra={"error": str(exc)})

    async def catch_up(self, session_id: str) -> int:
        """Apply what the store has and this node missed; how many updates that was."""
        room = self._rooms.get(session_id)
        if room is None:
            return 0
        # Ids can commit out of order across nodes: look back a little past our newest.
        after = max(room.snapshot_upto, room.last_id - 1000)
        missed = [
            u
            for u in await self._store.updates_after(session_id, after)
            if u.id not in room.applied_ids
        ]
        async with room.lock:
            for stored in missed:
                if stored.id not in room.applied_ids:
                    self._apply_remote(room, stored.id, stored.update)
        return len(missed)

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
        await self._store.save_snapshot(room.session_id, snapshot, upto, self._clock())
        room.snapshot_upto = upto

    async def _unload(self, room: _NotesRoom) -> None:
        self._rooms.pop(room.session_id, None)
        for task in room.tasks:
            task.cancel()
        if room.subscription is not None:
            room.subscription.close()
        try:
            await self._compact(room)
        except Exception:
            log.exception("compacting notes failed; the log still holds every update")

    async def close(self) -> None:
        for room in list(self._rooms.values()):
            with contextlib.suppress(Exception):
                await self._unload(room)
        await self._commits.close()
