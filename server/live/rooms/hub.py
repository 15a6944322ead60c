"""The rooms of this process, and the routing between sockets and the room that runs them.

Every room's state machine (:class:`signaling.Room`) runs on exactly one node, its owner (see
:mod:`server.live.rooms.directory`). A socket on another node reaches it over the bus: its frames go
to ``node:<owner>``, and the owner's deliveries come back to ``node:<socket's node>``. With the
in-memory bus every room is local and nothing is serialised twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import msgspec

from server.infra.bus import Bus
from server.infra.metrics import Metrics
from server.infra.storage import ChatMessage
from server.live.rooms import envelopes as env
from server.live.rooms.connection import SocketConnection
from server.live.rooms.directory import RoomDirectory
from server.live.rooms.records import RoomRecords
from signaling import (
    MAX_CHAT_HISTORY,
    MAX_CHAT_HISTORY_BYTES,
    Audit,
    ChatHistory,
    ChatPosted,
    ClientMessage,
    Close,
    ConnectionId,
    Effect,
    ErrorMessage,
    IceServer,
    Join,
    MarkAdded,
    PeerId,
    ProtocolError,
    RecordingChanged,
    Role,
    Room,
    Send,
    SendChatHistory,
    SessionId,
    StoreChat,
    StoreMark,
    parse_client_message,
    serialize,
)
from signaling import Principal as RoomPrincipal
from signaling.close_codes import CLOSE_NOT_AUTHENTICATED, CLOSE_TRY_AGAIN

__all__ = ["RoomHub", "chat_history"]

log = logging.getLogger("preceptor.rooms")

_TICK_S = 1.0
_REVALIDATE_S = 30.0
_REVOCATIONS = "revocations"
_ice_encoder = msgspec.json.Encoder()
_ice_decoder = msgspec.json.Decoder(tuple[IceServer, ...])
_CHAT_NOT_SAVED = ErrorMessage(
    code="chat-not-saved",
    message="Your message could not be saved, so nobody saw it. Send it again in a moment.",
)


@dataclass
class _HostedRoom:
    room: Room
    subjects: dict[str, str] = field(default_factory=dict)  # peer id → principal subject


class RoomHub:
    def __init__(
        self,
        *,
        node_id: str,
        bus: Bus,
        directory: RoomDirectory,
        records: RoomRecords,
        metrics: Metrics,
        grace_s: float = 30.0,
        ended_logins: Callable[[set[str]], Awaitable[set[str]]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.node_id = node_id
        self._bus = bus
        self._directory = directory
        self._records = records
        self._metrics = metrics
        self._grace_s = grace_s
        self._ended_logins = ended_logins
        self._clock = clock
        self._wall_clock = wall_clock
        self._rooms: dict[str, _HostedRoom] = {}
        self._sockets: dict[str, SocketConnection] = {}
        self._owners: dict[str, str] = {}  # connection id → owner node of its room
        self._holders: dict[str, tuple[str, str]] = {}  # connection id → (subject, login hash)
        self._tasks: list[asyncio.Task[None]] = []

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        inbox = await self._bus.subscribe(f"node:{self.node_id}", maxsize=10_000)
        revocations = await self._bus.subscribe(_REVOCATIONS, maxsize=10_000)
        self._tasks = [
            asyncio.create_task(self._read_inbox(inbox), name="rooms-inbox"),
            asyncio.create_task(self._read_inbox(revocations), name="rooms-revocations"),
            asyncio.create_task(self._tick_forever(), name="rooms-tick"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for session_id in list(self._rooms):
            with contextlib.suppress(Exception):
                await self._directory.release(session_id)
        await self._directory.close()

    def new_connection_id(self) -> ConnectionId:
        return ConnectionId(f"{self.node_id}.{uuid.uuid4().hex}")

    @property
    def room_count(self) -> int:
        return len(self._rooms)

    # --- from sockets on this node ------------------------------------------------------------

    def attach(self, socket: SocketConnection, *, subject: str, login: str) -> None:
        """A socket opened here by ``subject`` under the login session ``login`` (its hash)."""
        self._sockets[socket.id] = socket
        self._holders[socket.id] = (subject, login)

    async def revoke(self, *, subject: str | None = None, login: str | None = None) -> None:
        """Close, on every node, the sockets of a login that ended or an account disabled
        (DESIGN.md §5: revocation reaches open sockets, not only new requests)."""
        await self._bus.publish(_REVOCATIONS, env.encode(env.RevokeSockets(subject, login)))

    def forget(self, socket: SocketConnection) -> None:
        """A socket that closes before joining any room."""
        self._sockets.pop(socket.id, None)
        self._holders.pop(socket.id, None)

    async def join(
        self,
        socket: SocketConnection,
        session_id: str,
        principal: RoomPrincipal,
        message: Join,
        frame: str,
        ice_servers: Sequence[IceServer],
        session_started_at: float | None = None,
    ) -> None:
        """``session_started_at``: when the session went live (wall clock), so that offsets
        (marks) count from the session's start even if its room is rebuilt."""
        if not self._records.accepting:
            socket.close(CLOSE_TRY_AGAIN, "try again: the record is behind")
            return
        owner = await self._directory.owner(session_id)
        self._owners[socket.id] = owner
        if owner == self.node_id:
            self._join_local(
                socket.id, session_id, principal, message, tuple(ice_servers), session_started_at
            )
            return
        await self._publish(
            owner,
            env.JoinRoom(
                session=session_id,
                connection=socket.id,
                subject=principal.subject,
                role=principal.role.value,
                display_name=principal.display_name,
                needs_admission=principal.needs_admission,
                frame=frame,
                ice_servers=_ice_encoder.encode(tuple(ice_servers)).decode(),
                session_started_at=session_started_at,
                guest=principal.guest,
            ),
        )

    async def receive(
        self, socket: SocketConnection, session_id: str, message: ClientMessage, frame: str
    ) -> None:
        owner = self._owners.get(socket.id)
        if owner == self.node_id:
            self._apply(session_id, lambda room: room.handle(socket.id, message, self._clock()))
        elif owner is not None:
            await self._publish(owner, env.RoomFrame(session_id, socket.id, frame))

    async def detach(self, socket: SocketConnection, session_id: str) -> None:
        self._sockets.pop(socket.id, None)
        self._holders.pop(socket.id, None)
        owner = self._owners.pop(socket.id, None)
        if owner == self.node_id:
            self._apply(session_id, lambda room: room.disconnect(socket.id, self._clock()))
        elif owner is not None:
            await self._publish(owner, env.LeaveRoom(session_id, socket.id))

    async def end(self, session_id: str) -> None:
        """The session ended: its room closes every socket with 4410, wherever it runs."""
        if session_id in self._rooms:
            self._end_local(session_id)
            return
        owner = await self._directory.owner(session_id)
        if owner == self.node_id:
            # Nobody had the room open; we just claimed it for nothing.
            await self._directory.release(session_id)
        else:
            await self._publish(owner, env.EndRoom(session_id))

    async def feedback_submitted(self, session_id: str, *, form_id: str, trainee_id: str) -> None:
        """A feedback form was submitted: its trainee in the room hears of it (see
        `Room.feedback_submitted`), wherever the room runs. The form is already stored: a notice
        that cannot be sent is logged, never an error for the form's author."""
        try:
            if session_id in self._rooms:
                self._notify_feedback(session_id, form_id, trainee_id)
                return
            owner = await self._directory.owner(session_id)
            if owner == self.node_id:
                # Nobody has the room open: nobody to tell; we just claimed it for nothing.
                await self._directory.release(session_id)
            else:
                await self._publish(owner, env.FeedbackSubmitted(session_id, form_id, trainee_id))
        except Exception as exc:
            log.warning("could not announce feedback", extra={"error": str(exc)})

    def _notify_feedback(self, session_id: str, form: str, trainee: str) -> None:
        self._apply(session_id, lambda room: room.feedback_submitted(form, trainee))

    # --- the rooms this node runs --------------------------------------------------------------

    def _join_local(
        self,
        connection: str,
        session_id: str,
        principal: RoomPrincipal,
        message: Join,
        ice_servers: tuple[IceServer, ...],
        session_started_at: float | None = None,
    ) -> None:
        if not self._records.accepting:
            # The room's events could not be recorded (the database is away and the records
            # queue is full): refuse rather than let anyone in unaudited (DESIGN.md §5).
            self._close(connection, CLOSE_TRY_AGAIN, "try again: the record is behind")
            return
        hosted = self._rooms.get(session_id)
        if hosted is None:
            now, wall = self._clock(), self._wall_clock()
            started_wall = wall if session_started_at is None else min(wall, session_started_at)
            room = Room(
                SessionId(session_id),
                started_at=now - (wall - started_wall),
                started_wall=started_wall,
                new_id=lambda: uuid.uuid4().hex[:12],
                new_token=lambda: secrets.token_urlsafe(24),
                grace=self._grace_s,
            )
            hosted = self._rooms[session_id] = _HostedRoom(room)
            self._metrics.rooms.set(len(self._rooms))
            self._records.session_live(session_id)
        effects = hosted.room.join(
            ConnectionId(connection), principal, message, self._clock(), ice_servers
        )
        peer = hosted.room.peer_of(ConnectionId(connection))
        if peer is not None:
            hosted.subjects[peer] = principal.subject
        self._carry_out(session_id, hosted, effects)

    def _apply(self, session_id: str, step: Callable[[Room], list[Effect]]) -> None:
        hosted = self._rooms.get(session_id)
        if hosted is not None:
            self._carry_out(session_id, hosted, step(hosted.room))

    def _end_local(self, session_id: str) -> None:
        hosted = self._rooms.get(session_id)
        if hosted is not None:
            self._carry_out(session_id, hosted, hosted.room.end())

    def _carry_out(self, session_id: str, hosted: _HostedRoom, effects: list[Effect]) -> None:
        # A mark is announced only once it is stored: whoever sees it may cite it at once.
        marks = {e.id for e in effects if isinstance(e, StoreMark)}
        held = [e for e in effects if isinstance(e, Send) and _mark_id(e) in marks]
        # An admitted guest hears its welcome only once the admission is stored: the notes
        # and the record it then opens check the stored admission.
        admitted = {
            hosted.room.connection_of(PeerId(e.detail.get("peer", "")))
            for e in effects
            if isinstance(e, Audit) and e.action == "admit"
        }
        welcomes = [e for e in effects if isinstance(e, Send) and e.to in admitted]
        held += welcomes
        # Chat, like a mark, is relayed only once it is stored (issue 10: the record keeps it).
        chats = {e.id for e in effects if isinstance(e, StoreChat)}
        held += [e for e in effects if isinstance(e, Send) and _chat_id(e) in chats]
        for effect in effects:
            if effect in held:
                continue
            match effect:
                case Send(to=to, message=message):
                    self._deliver(to, serialize(message))
                case Close(to=to, code=code, reason=reason):
                    self._close(to, code, reason)
                case Audit(action=action, peer=peer, detail=detail):
                    subject = hosted.subjects.get(peer) if peer else None
                    extra = {"peer": peer} if peer else {}
                    self._records.audit(
                        action, session_id=session_id, actor_id=subject, detail={**extra, **detail}
                    )
                    if action in ("admit", "deny"):
                        guest = hosted.subjects.get(detail.get("peer", ""))
                        self._decided(session_id, guest, action, welcomes)
                case StoreMark():
                    announce = [s for s in held if _mark_id(s) == effect.id]
                    self._records.mark(
                        mark_id=effect.id,
                        session_id=session_id,
                        label=effect.label,
                        tags=effect.tags,
                        at_ms=effect.at_ms,
                        by=hosted.subjects.get(effect.by, effect.by),
                        then=functools.partial(self._announce, announce),
                    )
                case StoreChat():
                    self._store_chat(session_id, hosted, effect, held)
                case SendChatHistory(to=to):
                    self._records.chat_history(
                        session_id,
                        limit=MAX_CHAT_HISTORY,
                        then=functools.partial(self._send_history, to),
                    )
                case RecordingChanged():
                    # Recording media arrives with routed mode (DESIGN.md §3); the room's
                    # consent state machine already runs and is audited.
                    pass
        if hosted.room.is_empty or hosted.room.ended:
            del self._rooms[session_id]
            self._metrics.rooms.set(len(self._rooms))
            task = asyncio.get_running_loop().create_task(self._directory.release(session_id))
            task.add_done_callback(_log_failure)

    def _store_chat(
        self, session_id: str, hosted: _HostedRoom, chat: StoreChat, held: list[Send]
    ) -> None:
        author = hosted.subjects.get(chat.by, chat.by)
        relay = [s for s in held if _chat_id(s) == chat.id]

        def stored() -> None:
            self._announce(relay)
            # The timeline shows the message where it was said (the text stays in the chat
            # table, out of the append-only log, so it can be deleted with the record).
            detail = {"peer": chat.by, "chat": chat.id}
            self._records.audit("chat", session_id=session_id, actor_id=author, detail=detail)

        def failed() -> None:
            connection = hosted.room.connection_of(chat.by)
            if connection is not None:
                self._deliver(connection, serialize(_CHAT_NOT_SAVED))

        message = ChatMessage(
            id=chat.id,
            session_id=session_id,
            peer=chat.by,
            author_subject=author,
            author_name=chat.name,
            text=chat.text,
            at=chat.at / 1000,
            at_ms=chat.at_ms,
        )
        self._records.chat(message, then=stored, failed=failed)

    def _send_history(self, connection: ConnectionId, stored: list[ChatMessage]) -> None:
        self._deliver(connection, serialize(chat_history(stored)))

    def _decided(
        self, session_id: str, guest: str | None, action: str, welcomes: list[Send]
    ) -> None:
        """A mentor admitted or denied a guest: the admission is stored (it outlives this
        room, this node and the guest's connection), then the guest is welcomed; a denial ends
        the guest's sign-in and closes its sockets on every node."""
        if guest is None:
            self._announce(welcomes)
        elif action == "admit":
            self._records.admit_guest(
                session_id=session_id,
                guest_id=guest,
                then=functools.partial(self._announce, welcomes),
            )
        else:
            self._records.deny_guest(session_id=session_id, guest_id=guest, then=self._revoke_all)

    async def _revoke_all(self, logins: set[str]) -> None:
        for login in logins:
            await self.revoke(login=login)

    def _announce(self, sends: list[Send]) -> None:
        for send in sends:
            self._deliver(send.to, serialize(send.message))

    def _deliver(self, connection: str, text: str) -> None:
        socket = self._sockets.get(connection)
        if socket is not None:
            socket.send(text)
        elif not connection.startswith(f"{self.node_id}."):
            self._publish_soon(_node_of(connection), env.Deliver(connection, text))

    def _close(self, connection: str, code: int, reason: str) -> None:
        socket = self._sockets.get(connection)
        if socket is not None:
            socket.close(code, reason)
        elif not connection.startswith(f"{self.node_id}."):
            self._publish_soon(_node_of(connection), env.CloseConnection(connection, code, reason))

    async def close_ended_logins(self) -> None:
        """Close sockets whose sign-in ended in a way the bus did not announce (disabled from
        the CLI, absolute timeout, revoked on a node without Redis)."""
        logins = {login for _, login in self._holders.values()}
        if self._ended_logins is None or not logins:
            return
        try:
            ended = await self._ended_logins(logins)
        except Exception as exc:
            log.warning("could not re-check sign-ins", extra={"error": str(exc)})
            return
        for connection, (_, login) in list(self._holders.items()):
            if login in ended:
                self._close(connection, CLOSE_NOT_AUTHENTICATED, "signed out")

    async def _tick_forever(self) -> None:
        refreshed = revalidated = self._clock()
        while True:
            await asyncio.sleep(_TICK_S)
            now = self._clock()
            for session_id, hosted in list(self._rooms.items()):
                due = hosted.room.next_expiry()
                if due is not None and due <= now:
                    self._carry_out(session_id, hosted, hosted.room.expire(now))
            if now - revalidated >= _REVALIDATE_S:
                revalidated = now
                await self.close_ended_logins()
            if now - refreshed >= 5.0:
                refreshed = now
                try:
                    await self._directory.refresh(list(self._rooms))
                except Exception as exc:
                    log.warning("could not refresh room claims", extra={"error": str(exc)})

    # --- the bus -------------------------------------------------------------------------------

    async def _publish(self, node: str, envelope: env.Envelope) -> None:
        await self._bus.publish(f"node:{node}", env.encode(envelope))

    def _publish_soon(self, node: str, envelope: env.Envelope) -> None:
        # Bus.publish only enqueues; wrapping it in a task keeps _carry_out synchronous, so a
        # room's effects are applied in one step with no other input interleaved.
        task = asyncio.get_running_loop().create_task(self._publish(node, envelope))
        task.add_done_callback(_log_failure)

    async def _read_inbox(self, inbox: AsyncIterator[bytes]) -> None:
        async for data in inbox:
            try:
                envelope = env.decode(data)
            except msgspec.DecodeError:
                log.error("undecodable envelope on the bus")
                continue
            try:
                self._dispatch(envelope)
            except Exception:
                log.exception("handling an envelope failed")

    def _dispatch(self, envelope: env.Envelope) -> None:
        match envelope:
            case env.Deliver(connection=connection, text=text):
                self._deliver(connection, text)
            case env.CloseConnection(connection=connection, code=code, reason=reason):
                self._close(connection, code, reason)
            case env.JoinRoom():
                try:
                    message = parse_client_message(envelope.frame)
                except ProtocolError:
                    return
                if isinstance(message, Join):
                    principal = RoomPrincipal(
                        subject=envelope.subject,
                        role=Role(envelope.role),
                        display_name=envelope.display_name,
                        needs_admission=envelope.needs_admission,
                        guest=envelope.guest,
                    )
                    ice = _ice_decoder.decode(envelope.ice_servers)
                    self._join_local(
                        envelope.connection,
                        envelope.session,
                        principal,
                        message,
                        ice,
                        envelope.session_started_at,
                    )
            case env.RoomFrame(session=session, connection=connection, frame=frame):
                try:
                    message = parse_client_message(frame)
                except ProtocolError:
                    return
                conn = ConnectionId(connection)
                self._apply(session, lambda room: room.handle(conn, message, self._clock()))
            case env.LeaveRoom(session=session, connection=connection):
                conn = ConnectionId(connection)
                self._apply(session, lambda room: room.disconnect(conn, self._clock()))
            case env.EndRoom(session=session):
                self._end_local(session)
            case env.FeedbackSubmitted(session=session, form=form, trainee=trainee):
                self._notify_feedback(session, form, trainee)
            case env.RevokeSockets(subject=subject, login=login):
                for connection, (holder, holder_login) in list(self._holders.items()):
                    if holder == subject or holder_login == login:
                        self._close(connection, CLOSE_NOT_AUTHENTICATED, "signed out")


def _mark_id(effect: Effect) -> str | None:
    if isinstance(effect, Send) and isinstance(effect.message, MarkAdded):
        return effect.message.id
    return None


def chat_history(stored: Sequence[ChatMessage]) -> ChatHistory:
    """The `chat-history` message for stored chat (oldest first): its newest messages, as many as
    fit in `MAX_CHAT_HISTORY_BYTES`."""
    kept: list[ChatPosted] = []
    size = 0
    for m in reversed(stored[-MAX_CHAT_HISTORY:]):
        posted = ChatPosted(
            from_=PeerId(m.peer), text=m.text, at=round(m.at * 1000), name=m.author_name, id=m.id
        )
        size += len(serialize(posted).encode())
        if size > MAX_CHAT_HISTORY_BYTES:
            break
        kept.append(posted)
    return ChatHistory(messages=tuple(reversed(kept)))


def _chat_id(effect: Effect) -> str | None:
    if isinstance(effect, Send) and isinstance(effect.message, ChatPosted):
        return effect.message.id
    return None


def _node_of(connection: str) -> str:
    return connection.split(".", 1)[0]


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("room background step failed", exc_info=task.exception())
