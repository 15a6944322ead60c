"""The rooms of this process, and the routing between sockets and the room that runs them.

Every room's state machine (:class:`signaling.Room`) runs on exactly one node, its owner (see
:mod:`server.live.rooms.directory`). A socket on another node reaches it over the bus: its frames go
to ``node:<owner>``, and the owner's deliveries come back to ``node:<socket's node>``. With the
in-memory bus every room is local and nothing is serialised twice.

Rooms heal (issue 13): an owner acts only while its lease holds (see
:mod:`server.live.rooms.ownership`), keeps a room's input while Redis is away, and hands the room
on if another node holds it now; a node whose sockets' room ran on a node that died takes the
room over and joins them to it as the members they were (``Room.restore``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import msgspec

from server.infra.bus import Bus
from server.infra.metrics import Metrics
from server.infra.storage import ChatMessage
from server.live.media.port import MediaPort, MemberFacts
from server.live.rooms import envelopes as env
from server.live.rooms.chat_tail import ChatTail
from server.live.rooms.connection import SocketConnection
from server.live.rooms.directory import DirectoryUnavailable, RoomDirectory
from server.live.rooms.ids import IdMint
from server.live.rooms.ownership import (
    HEARTBEAT_S,
    RENEW_S,
    Claim,
    Lease,
    NodeWatch,
    SocketClaims,
)
from server.live.rooms.records import RoomRecords
from signaling import (
    MAX_CHAT_HISTORY,
    Audit,
    ChatPosted,
    ClientMessage,
    Close,
    ConnectionId,
    Effect,
    ErrorMessage,
    IceServer,
    Join,
    MarkAdded,
    MediaEnd,
    MediaJoin,
    MediaLeave,
    MediaMode,
    MediaSignal,
    PeerId,
    ProtocolError,
    RecordingChanged,
    Role,
    Room,
    Send,
    SendChatHistory,
    ServerMessage,
    SessionId,
    StoreChat,
    StoreMark,
    Waiting,
    Welcome,
    parse_client_message,
    serialize,
)
from signaling import Principal as RoomPrincipal
from signaling.close_codes import CLOSE_NOT_AUTHENTICATED, CLOSE_TRY_AGAIN
from signaling.messages import ChatAudience

__all__ = ["RoomHub"]

log = logging.getLogger("preceptor.rooms")

_TICK_S = 1.0
_REVALIDATE_S = 30.0
# The bus channel of RevokeSockets envelopes; `preceptor disable-user` publishes on it too.
REVOCATIONS = "revocations"
_NODES = "nodes"
_MAX_PENDING = 2000  # inputs kept per room while its lease is in doubt
_LOCATE_TRIES = 15  # x 0.2 s: how long a join waits for a claim to be granted
_MAX_HELD = 10_000  # envelopes kept per node while it cannot hear them
_ice_encoder = msgspec.json.Encoder()
_ice_decoder = msgspec.json.Decoder(tuple[IceServer, ...])
_CHAT_NOT_SAVED = ErrorMessage(
    code="chat-not-saved",
    message="Your message could not be saved, so nobody saw it. Send it again in a moment.",
)


@dataclass
class _HostedRoom:
    room: Room
    lease: Lease
    subjects: dict[str, str] = field(default_factory=dict)  # peer id → principal subject
    # Input that arrived while the lease was in doubt (issue 13): applied once it is renewed.
    pending: deque[Callable[[Room], list[Effect]]] = field(default_factory=deque)
    chat: ChatTail = field(default_factory=ChatTail)


@dataclass(frozen=True)
class _Joined:
    """What a socket here joined with: enough to join it again on a room's new owner."""

    session: str
    principal: RoomPrincipal
    message: Join
    frame: str
    ice_servers: tuple[IceServer, ...]
    session_started_at: float | None
    media_mode: str
    observers_hidden: bool = False


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
        media: MediaPort | None = None,
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
        self._ids = IdMint()
        self._rooms: dict[str, _HostedRoom] = {}
        self.draining = False  # set for good by `drain`: the node is going away
        self._sockets: dict[str, SocketConnection] = {}
        self._owners = SocketClaims()  # connection id → its room's claim
        self._joined: dict[str, _Joined] = {}  # connection id (here) → its join
        self._memberships: dict[str, env.Membership] = {}  # connection id (here) → member
        self._watch = NodeWatch(node_id)
        self._granted: dict[str, Lease] = {}  # claims won for rooms not yet opened here
        self._held: dict[str, deque[env.Envelope]] = {}  # node → envelopes it cannot hear yet
        self._holders: dict[str, tuple[str, str]] = {}  # connection id → (subject, login hash)
        self._tasks: list[asyncio.Task[None]] = []
        # Routed rooms' `media` peer (DESIGN.md §3): it runs where the room runs, on its owner.
        self._media = media
        if media is not None:
            media.attach(self.to_member, self.member_facts, self.recording_failed)

    # --- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        inbox = await self._bus.subscribe(f"node:{self.node_id}", maxsize=10_000)
        revocations = await self._bus.subscribe(REVOCATIONS, maxsize=10_000)
        nodes = await self._bus.subscribe(_NODES, maxsize=10_000)
        self._tasks = [
            asyncio.create_task(self._read_inbox(inbox), name="rooms-inbox"),
            asyncio.create_task(self._read_inbox(revocations), name="rooms-revocations"),
            asyncio.create_task(self._read_inbox(nodes), name="rooms-heartbeats"),
            asyncio.create_task(self._tick_forever(), name="rooms-tick"),
            asyncio.create_task(self._heartbeat_forever(), name="rooms-heartbeat"),
            asyncio.create_task(self._leases_forever(), name="rooms-leases"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for hosted in list(self._rooms.values()):
            with contextlib.suppress(Exception):
                await self._directory.release(hosted.lease.claim)
        await self._directory.close()
        if self._media is not None:
            await self._media.close()

    async def drain(self, code: int, reason: str) -> None:
        """This node is going away (SIGTERM, issue 13): give up the rooms it runs, so that the
        next join claims each on a node that stays, then tell every member of them (here or on
        another node) and every socket here to reconnect."""
        self.draining = True
        rooms, self._rooms = self._rooms, {}
        self._metrics.rooms.set(0)
        for hosted in rooms.values():
            with contextlib.suppress(Exception):
                await self._directory.release(hosted.lease.claim)
            for peer in (*hosted.room.members(), *hosted.room.lobby()):
                connection = hosted.room.connection_of(peer.id)
                if connection is not None and not connection.startswith(f"{self.node_id}."):
                    await self._publish(
                        _node_of(connection), env.CloseConnection(connection, code, reason)
                    )
        for socket in list(self._sockets.values()):
            socket.close(code, reason)

    def new_connection_id(self) -> ConnectionId:
        return ConnectionId(f"{self.node_id}.{self._ids.hex(16)}")

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
        await self._bus.publish(REVOCATIONS, env.encode(env.RevokeSockets(subject, login)))

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
        media_mode: str = MediaMode.DIRECT,
        observers_hidden: bool = False,
    ) -> None:
        """``session_started_at``: when the session went live (wall clock), so that offsets
        (marks) count from the session's start even if its room is rebuilt. ``media_mode`` and
        ``observers_hidden``: the session's, for a room this join opens."""
        if not self._records.accepting:
            socket.close(CLOSE_TRY_AGAIN, "try again: the record is behind")
            return
        self._joined[socket.id] = _Joined(
            session_id,
            principal,
            message,
            frame,
            tuple(ice_servers),
            session_started_at,
            media_mode,
            observers_hidden,
        )
        try:
            claim = await self._locate(session_id)
        except DirectoryUnavailable:
            # A reconnect instruction, never a silent or unexplained close (issue 13).
            socket.close(CLOSE_TRY_AGAIN, "try again: rooms are being moved")
            return
        if socket.id in self._sockets:
            self._owners[socket.id] = claim
            await self._send_join(socket.id)

    async def _send_join(self, connection: str) -> None:
        """Join a socket here to its room's owner: this node or another; as the member it
        already is, if its room moved (``restore``)."""
        joined, claim = self._joined.get(connection), self._owners.get(connection)
        if joined is None or claim is None:
            return
        restore = self._memberships.get(connection)
        routed = joined.media_mode == "auto" and await self._was_routed(joined.session)
        if claim.owner == self.node_id:
            self._join_local(
                connection,
                joined.session,
                joined.principal,
                joined.message,
                joined.ice_servers,
                joined.session_started_at,
                joined.media_mode,
                restore=restore,
                observers_hidden=joined.observers_hidden,
                routed=routed,
            )
            return
        principal = joined.principal
        await self._publish(
            claim.owner,
            env.JoinRoom(
                session=joined.session,
                connection=connection,
                subject=principal.subject,
                role=principal.role.value,
                display_name=principal.display_name,
                needs_admission=principal.needs_admission,
                frame=joined.frame,
                ice_servers=_ice_encoder.encode(joined.ice_servers).decode(),
                session_started_at=joined.session_started_at,
                guest=principal.guest,
                observer=principal.observer,
                media_mode=joined.media_mode,
                restore=restore,
                observers_hidden=joined.observers_hidden,
                routed=routed,
            ),
        )

    async def _was_routed(self, session_id: str) -> bool:
        """Whether the session's "auto" room went routed on some node (issue 11): a room
        rebuilt after its node died or drained starts routed, as its members left it."""
        if session_id in self._rooms:
            return False  # open here: it has its own mode
        try:
            return await self._directory.was_routed(session_id)
        except DirectoryUnavailable as exc:
            log.warning("could not read a room's mode", extra={"error": type(exc).__name__})
            return False

    async def _locate(self, session_id: str) -> Claim:
        """The claim of the node that runs the room, claiming it for this node when nobody
        may be running it (vacant, or held by a node that died). Raises DirectoryUnavailable
        when that cannot be known in a few seconds."""
        hosted = self._rooms.get(session_id)
        if hosted is not None:
            return hosted.lease.claim
        known = self._owners.of_session(session_id)
        floor = max((c.generation for c in known), default=0)
        for attempt in range(_LOCATE_TRIES):
            now = self._clock()
            try:
                current = await self._directory.owner(session_id)
                if current is not None and current.owner == self.node_id:
                    # Ours, though no room is open here: renewed, it is a lease to act on.
                    [found] = await self._directory.renew([current])
                    if found is not None and found.owner == self.node_id:
                        self._granted[session_id] = Lease(found, now)
                    if found is not None:
                        return found
                elif current is not None and not self._watch.dead(current.owner, now):
                    return current
                previous = max(known, key=lambda c: c.generation, default=None)
                if current is None and previous and not self._watch.dead(previous.owner, now):
                    # Redis forgot the claim (it restarted): its live owner re-claims it.
                    return previous
                started = self._clock()
                claim = await self._directory.claim(session_id, floor=floor, replace=current)
                if claim is not None:
                    if claim.owner == self.node_id and session_id not in self._rooms:
                        self._granted[session_id] = Lease(claim, started)
                    return claim
            except DirectoryUnavailable:
                if known:
                    # Its owner is the best guess; frames wait in the bus until Redis returns.
                    return max(known, key=lambda c: c.generation)
                if attempt >= 2:
                    raise
            await asyncio.sleep(0.2)
        raise DirectoryUnavailable("no claim granted yet")

    async def receive(
        self, socket: SocketConnection, session_id: str, message: ClientMessage, frame: str
    ) -> None:
        claim = self._owners.get(socket.id)
        if claim is None:
            return
        if claim.owner == self.node_id:
            self._apply(session_id, lambda room: room.handle(socket.id, message, self._clock()))
        else:
            await self._publish(claim.owner, env.RoomFrame(session_id, socket.id, frame))

    async def detach(
        self, socket: SocketConnection, session_id: str, *, grace_s: float | None = None
    ) -> None:
        """``grace_s``: how long the member keeps its place, when shorter than the room's
        (its socket went silent, so it has been gone a while already)."""
        self._sockets.pop(socket.id, None)
        self._holders.pop(socket.id, None)
        self._joined.pop(socket.id, None)
        self._memberships.pop(socket.id, None)
        claim = self._owners.pop(socket.id)
        if claim is None:
            return
        if claim.owner == self.node_id:
            self._apply(session_id, lambda room: room.disconnect(socket.id, self._clock(), grace_s))
        else:
            await self._publish(claim.owner, env.LeaveRoom(session_id, socket.id, grace_s))

    async def end(self, session_id: str) -> None:
        """The session ended: its room closes every socket with 4410, wherever it runs."""
        if session_id in self._rooms:
            self._end_local(session_id)
            return
        try:
            claim = await self._directory.owner(session_id)
        except DirectoryUnavailable as exc:
            # The session is ended in the database: joins are refused from now on; members
            # still connected are closed when their room's node hears of it, or leave.
            log.warning("could not tell the room it ended", extra={"error": type(exc).__name__})
            return
        if claim is not None and claim.owner != self.node_id:
            await self._publish(claim.owner, env.EndRoom(session_id))

    async def feedback_submitted(self, session_id: str, *, form_id: str, trainee_id: str) -> None:
        """A feedback form was submitted: its trainee in the room hears of it (see
        `Room.feedback_submitted`), wherever the room runs. The form is already stored: a notice
        that cannot be sent is logged, never an error for the form's author."""
        try:
            if session_id in self._rooms:
                self._notify_feedback(session_id, form_id, trainee_id)
                return
            claim = await self._directory.owner(session_id)
            if claim is not None and claim.owner != self.node_id:
                notice = env.FeedbackSubmitted(session_id, form_id, trainee_id)
                await self._publish(claim.owner, notice)
        except Exception as exc:
            log.warning("could not announce feedback", extra={"error": type(exc).__name__})

    async def hide_observers(self, session_id: str, hidden: bool) -> None:
        """The session's observer setting changed: its room, wherever it runs, shows or hides
        its observers to trainees and guests at once (issue 11). Rooms opened later read the
        setting from the session."""
        try:
            if session_id in self._rooms:
                self._apply(session_id, lambda room: room.hide_observers(hidden))
                return
            claim = await self._directory.owner(session_id)
            if claim is not None and claim.owner != self.node_id:
                await self._publish(claim.owner, env.ObserversHidden(session_id, hidden))
        except Exception as exc:
            # The setting is stored: rooms opened from now on follow it whatever happens here.
            log.warning("could not tell the room", extra={"error": type(exc).__name__})

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
        media_mode: str = MediaMode.DIRECT,
        restore: env.Membership | None = None,
        *,
        observers_hidden: bool = False,
        routed: bool = False,
    ) -> None:
        if not self._records.accepting:
            # The room's events could not be recorded (the database is away and the records
            # queue is full): refuse rather than let anyone in unaudited (DESIGN.md §5).
            self._close(connection, CLOSE_TRY_AGAIN, "try again: the record is behind")
            return
        hosted = self._rooms.get(session_id)
        if hosted is None:
            # A claim this node just won, or (a join forwarded here by a node that read an
            # older claim) one in doubt until the lease task confirms or hands the room on.
            lease = self._granted.pop(session_id, None) or Lease(
                Claim(session_id, self.node_id, 0), float("-inf")
            )
            now, wall = self._clock(), self._wall_clock()
            started_wall = wall if session_started_at is None else min(wall, session_started_at)
            room = Room(
                SessionId(session_id),
                started_at=now - (wall - started_wall),
                started_wall=started_wall,
                new_id=lambda: self._ids.hex(6),
                new_token=lambda: secrets.token_urlsafe(24),
                grace=self._grace_s,
                # A session's "auto" mode starts direct and may switch (DESIGN.md §3); once
                # switched, a rebuilt room starts routed (`routed`: it went so on another node).
                media_mode=MediaMode.ROUTED
                if media_mode == "routed" or (routed and media_mode == "auto")
                else MediaMode.DIRECT,
                auto_route=media_mode == "auto",
                observers_hidden=observers_hidden,
            )
            hosted = self._rooms[session_id] = _HostedRoom(room, lease)
            self._metrics.rooms.set(len(self._rooms))
            if session_started_at is None:
                # Scheduled until now (a live session knows when it started): it goes live.
                self._records.session_live(session_id)
        conn = ConnectionId(connection)

        def join(room: Room) -> list[Effect]:
            now = self._clock()
            if restore is None:
                effects = room.join(conn, principal, message, now, ice_servers)
            else:
                peer, token = PeerId(restore.peer), restore.token
                effects = room.restore(
                    conn,
                    principal,
                    message,
                    now,
                    ice_servers,
                    peer=peer,
                    token=token,
                    admitted=restore.admitted,
                )
            peer_id = room.peer_of(conn)
            if peer_id is not None:
                hosted.subjects[peer_id] = principal.subject
            return effects

        self._apply(session_id, join)

    def _apply(self, session_id: str, step: Callable[[Room], list[Effect]]) -> None:
        hosted = self._rooms.get(session_id)
        if hosted is None:
            return
        if not hosted.lease.acting(self._clock()):
            # Not sure we still own the room (Redis away): keep the input for when we are.
            if len(hosted.pending) >= _MAX_PENDING:
                hosted.pending.popleft()
            hosted.pending.append(step)
            return
        self._carry_out(session_id, hosted, step(hosted.room))

    def _end_local(self, session_id: str) -> None:
        self._apply(session_id, lambda room: room.end())

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
        # ... and its chat history follows that welcome.
        histories = [e for e in effects if isinstance(e, SendChatHistory) and e.to in admitted]
        # ... and `media` offers it a connection only after that welcome (DESIGN.md §2): an
        # offer that overtook it met a page not yet in routed mode, which sent nothing.
        offers = [
            e
            for e in effects
            if isinstance(e, MediaJoin) and hosted.room.connection_of(e.peer) in admitted
        ]
        # Chat, like a mark, is relayed only once it is stored (issue 10: the record keeps it).
        chats = {e.id for e in effects if isinstance(e, StoreChat)}
        held += [e for e in effects if isinstance(e, Send) and _chat_id(e) in chats]
        self._note_memberships(hosted, effects)
        for effect in effects:
            if effect in held or effect in offers or effect in histories:
                continue
            match effect:
                case Send(to=to, message=message):
                    self._deliver(to, serialize(message))
                case Close(to=to, code=code, reason=reason):
                    self._close(to, code, reason)
                case Audit(action=action, peer=peer, detail=detail):
                    if action == "media-mode":
                        # Remembered beyond this node: a room rebuilt elsewhere starts routed.
                        self._spawn(self._directory.remember_routed(session_id))
                    subject = hosted.subjects.get(peer) if peer else None
                    extra = {"peer": peer} if peer else {}
                    self._records.audit(
                        action, session_id=session_id, actor_id=subject, detail={**extra, **detail}
                    )
                    if action in ("admit", "deny"):
                        guest = hosted.subjects.get(detail.get("peer", ""))
                        self._decided(session_id, guest, action, welcomes, histories, offers)
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
                case SendChatHistory(to=to, audiences=audiences):
                    self._send_chat_history(session_id, hosted, to, audiences)
                case RecordingChanged(session=session, state=state):
                    if self._media is not None:
                        self._media.recording_changed(session, state)
                case MediaJoin() | MediaLeave() | MediaSignal() | MediaEnd():
                    if self._media is not None:
                        self._media.carry_out(effect)
        if hosted.room.is_empty or hosted.room.ended:
            del self._rooms[session_id]
            self._metrics.rooms.set(len(self._rooms))
            release = self._directory.release(hosted.lease.claim)
            task = asyncio.get_running_loop().create_task(_quietly(release))
            task.add_done_callback(_log_failure)

    def _note_memberships(self, hosted: _HostedRoom, effects: list[Effect]) -> None:
        """Tell each socket's node who the socket is in the room (its peer id and resume
        token), so that the node can move it to a new owner should this one go."""
        for effect in effects:
            if not isinstance(effect, Send) or not isinstance(effect.message, Welcome | Waiting):
                continue
            peer = hosted.room.peer_of(effect.to)
            if peer is None:
                continue
            admitted = isinstance(effect.message, Welcome)
            membership = env.Membership(peer, effect.message.resume, admitted)
            if effect.to in self._sockets:
                self._memberships[effect.to] = membership
            elif not effect.to.startswith(f"{self.node_id}."):
                self._publish_soon(_node_of(effect.to), env.Member(effect.to, membership))

    def member_facts(self, session_id: SessionId, peer: PeerId) -> MemberFacts | None:
        """Who a member of a room run here is, for its media (speaking time by person)."""
        hosted = self._rooms.get(session_id)
        subject = hosted.subjects.get(peer) if hosted else None
        if hosted is None or subject is None:
            return None
        # The room counts from the session's start on the monotonic clock; back to wall time.
        started = self._wall_clock() - (self._clock() - hosted.room.started_at)
        return MemberFacts(subject, started)

    def to_member(self, session_id: SessionId, peer: PeerId, message: ServerMessage) -> None:
        """A message from the room's `media` peer to one member, wherever it is connected."""
        hosted = self._rooms.get(session_id)
        connection = hosted.room.connection_of(peer) if hosted else None
        if connection is not None:
            self._deliver(connection, serialize(message))

    def recording_failed(self, session_id: SessionId, reason: str) -> None:
        """The room's recorder stopped on its own (a full disk): the room turns recording off
        and tells its mentors why (the media, and so the recorder, runs on the room's owner)."""
        self._apply(session_id, lambda room: room.recording_failed(reason))

    def _store_chat(
        self, session_id: str, hosted: _HostedRoom, chat: StoreChat, held: list[Send]
    ) -> None:
        author = hosted.subjects.get(chat.by, chat.by)
        relay = [s for s in held if _chat_id(s) == chat.id]

        def stored() -> None:
            hosted.chat.stored(message)
            if self._rooms.get(session_id) is not hosted or not hosted.lease.acting(self._clock()):
                # The room moved while the line was on its way: its new owner loaded its chat
                # tail without it.
                self._spawn(self._tell_owner_chat_stored(message))
            self._announce(relay)
            # The timeline shows the message where it was said (the text stays in the chat
            # table, out of the append-only log, so it can be deleted with the record).
            detail = {"peer": chat.by, "chat": chat.id}
            self._records.audit("chat", session_id=session_id, actor_id=author, detail=detail)

        def failed() -> None:
            hosted.chat.stored(None)
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
            audience=chat.audience,
        )
        hosted.chat.storing()
        self._records.chat(message, then=stored, failed=failed)

    async def _tell_owner_chat_stored(self, message: ChatMessage) -> None:
        session_id = message.session_id
        claim = await self._directory.owner(session_id)
        if claim is None:
            return  # no room anywhere: the next to open loads the line with the rest
        if claim.owner != self.node_id:
            await self._publish(claim.owner, env.ChatStored(message))
        else:
            self._chat_stored_late(message)  # the room came back here

    def _chat_stored_late(self, message: ChatMessage) -> None:
        """A line of a room here, stored by the node it ran on before: into its chat tail and to
        its members, unless the tail already had it."""
        hosted = self._rooms.get(message.session_id)
        posted = hosted.chat.late(message) if hosted is not None else None
        if posted is not None:
            self._apply(message.session_id, lambda room: room.chat_stored_late(posted))

    def _send_chat_history(
        self,
        session_id: str,
        hosted: _HostedRoom,
        to: ConnectionId,
        audiences: tuple[ChatAudience, ...],
    ) -> None:
        """From the room's chat tail; the first member's welcome loads it (one read a room,
        not one a join: issue 8)."""
        tail = hosted.chat
        if tail.loaded:
            self._history_once_settled(tail, to, audiences)
        elif tail.wait(to, audiences):
            self._records.chat_tail(
                session_id,
                limit=MAX_CHAT_HISTORY,
                then=functools.partial(self._chat_loaded, tail),
                failed=tail.failed,
            )

    def _chat_loaded(
        self, tail: ChatTail, everyone: list[ChatMessage], every_audience: list[ChatMessage]
    ) -> None:
        for to, audiences in tail.load(everyone, every_audience):
            self._history_once_settled(tail, to, audiences)

    def _history_once_settled(
        self, tail: ChatTail, to: ConnectionId, audiences: tuple[ChatAudience, ...]
    ) -> None:
        def send() -> None:
            self._deliver(to, serialize(tail.history(audiences)))

        if tail.settled:
            send()
        else:
            # After the chat on its way to the store, which was relayed without this member.
            self._records.after(send)

    def _decided(
        self,
        session_id: str,
        guest: str | None,
        action: str,
        welcomes: list[Send],
        histories: list[SendChatHistory],
        offers: list[MediaJoin],
    ) -> None:
        """A mentor admitted or denied a guest: the admission is stored (it outlives this
        room, this node and the guest's connection), then the guest is welcomed (and, in a
        routed room, `media` offers it a connection); a denial ends the guest's sign-in and
        closes its sockets on every node."""
        welcomed = functools.partial(self._welcomed, session_id, welcomes, histories, offers)
        if guest is None:
            welcomed()
        elif action == "admit":
            self._records.admit_guest(session_id=session_id, guest_id=guest, then=welcomed)
        else:
            self._records.deny_guest(session_id=session_id, guest_id=guest, then=self._revoke_all)

    def _welcomed(
        self,
        session_id: str,
        welcomes: list[Send],
        histories: list[SendChatHistory],
        offers: list[MediaJoin],
    ) -> None:
        self._announce(welcomes)
        hosted = self._rooms.get(session_id)
        if hosted is not None:
            for history in histories:
                self._send_chat_history(session_id, hosted, history.to, history.audiences)
        for offer in offers:
            # Not for a member who left while its admission was being stored.
            if self._media is not None and hosted and hosted.room.connection_of(offer.peer):
                self._media.carry_out(offer)

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
            log.warning("could not re-check sign-ins", extra={"error": type(exc).__name__})
            return
        for connection, (_, login) in list(self._holders.items()):
            if login in ended:
                self._close(connection, CLOSE_NOT_AUTHENTICATED, "signed out")

    async def _tick_forever(self) -> None:
        revalidated = self._clock()
        while True:
            await asyncio.sleep(_TICK_S)
            now = self._clock()
            for session_id, hosted in list(self._rooms.items()):
                due = hosted.room.next_expiry()
                if due is not None and due <= now:
                    self._apply(session_id, lambda room: room.expire(self._clock()))
            if now - revalidated >= _REVALIDATE_S:
                revalidated = now
                self._watch.forget_quiet(now)
                await self.close_ended_logins()

    # --- rooms that heal (issue 13; the rules are in .ownership) -------------------------------

    async def _heartbeat_forever(self) -> None:
        while True:
            listening = self._watch.bus_healthy(self._clock())
            heartbeat = env.encode(env.Heartbeat(self.node_id, listening))
            await self._bus.publish(_NODES, heartbeat, urgent=True)
            await asyncio.sleep(HEARTBEAT_S)

    async def _leases_forever(self) -> None:
        while True:
            await asyncio.sleep(RENEW_S)
            try:
                await self._renew_leases()
                await self._heal_dead_owners()
            except DirectoryUnavailable:
                pass  # the leases lapse by themselves; the rooms keep their input meanwhile
            except Exception:
                log.exception("keeping room claims failed")

    async def _renew_leases(self) -> None:
        now = self._clock()
        for session_id, lease in list(self._granted.items()):
            if not lease.acting(now) and session_id not in self._rooms:
                del self._granted[session_id]  # won for a join that never came
                await _quietly(self._directory.release(lease.claim))
        doubtful = [h for h in self._rooms.values() if h.lease.claim.generation == 0]
        for hosted in doubtful:
            started = self._clock()
            session_id = hosted.room.session
            found = await self._directory.claim(session_id)
            if found is not None and self._rooms.get(session_id) is hosted:
                self._lease_answer(session_id, hosted, found, started)
        rooms = [(s, h) for s, h in self._rooms.items() if h.lease.claim.generation]
        if not rooms:
            return
        started = self._clock()
        answers = await self._directory.renew([h.lease.claim for _, h in rooms])
        for (session_id, hosted), found in zip(rooms, answers, strict=True):
            if found is not None and self._rooms.get(session_id) is hosted:
                self._lease_answer(session_id, hosted, found, started)

    def _lease_answer(self, session_id: str, hosted: _HostedRoom, found: Claim, at: float) -> None:
        if found.owner == self.node_id:
            hosted.lease.claim, hosted.lease.renewed_at = found, at
            while hosted.pending and self._rooms.get(session_id) is hosted:
                step = hosted.pending.popleft()
                self._carry_out(session_id, hosted, step(hosted.room))
            return
        # Fenced off: another node holds the room now. Its members move there as they are.
        log.warning("room claimed by another node; handing it over")
        self._metrics.rooms_moved.labels(why="claimed-elsewhere").inc()
        del self._rooms[session_id]
        self._metrics.rooms.set(len(self._rooms))
        for peer in (*hosted.room.members(), *hosted.room.lobby()):
            connection = hosted.room.connection_of(peer.id)
            if connection is None:
                continue
            if connection in self._sockets:
                self._owners[connection] = found
                self._spawn(self._send_join(connection))
            elif not connection.startswith(f"{self.node_id}."):
                self._publish_soon(_node_of(connection), env.Rehome(session_id, connection))

    async def _heal_dead_owners(self) -> None:
        """Sockets here whose room ran on a node that died: claim the room (here, or learn who
        did) and join them to it as the members they were."""
        now = self._clock()
        for node in [n for n in self._held if self._watch.dead(n, now)]:
            del self._held[node]  # its rooms move; their members join the new owner afresh
        dead = {c for c in self._owners.claims() if self._watch.dead(c.owner, now)}
        for claim in dead:
            started = self._clock()
            found = await self._directory.claim(
                claim.session, floor=claim.generation, replace=claim
            )
            if found is None or self._watch.dead(found.owner, self._clock()):
                continue
            if found.owner == self.node_id and claim.session not in self._rooms:
                self._granted[claim.session] = Lease(found, started)
            log.warning(
                "a room's node died; the room moves", extra={"generation": found.generation}
            )
            self._metrics.rooms_moved.labels(why="owner-silent").inc()
            for connection, held in self._owners.items():
                if held == claim:
                    self._owners[connection] = found
                    await self._send_join(connection)

    async def _rehome(self, session_id: str, connection: str) -> None:
        if connection not in self._sockets:
            return
        try:
            claim = await self._locate(session_id)
        except DirectoryUnavailable:
            self._close(connection, CLOSE_TRY_AGAIN, "try again: rooms are being moved")
            return
        self._owners[connection] = claim
        await self._send_join(connection)

    def _spawn(self, step: Awaitable[None]) -> None:
        task = asyncio.get_running_loop().create_task(_quietly(step))
        task.add_done_callback(_log_failure)

    # --- the bus -------------------------------------------------------------------------------

    async def _publish(self, node: str, envelope: env.Envelope) -> None:
        held = self._held.get(node)
        if held is None and self._watch.ready(node, self._clock()):
            await self._bus.publish(f"node:{node}", env.encode(envelope))
            return
        # The bus is down, or the node has not said it listens again since: Redis would drop
        # the message. Kept, in order, until its heartbeat says it listens (issue 13).
        if held is None:
            held = self._held[node] = deque(maxlen=_MAX_HELD)
        held.append(envelope)

    async def _release_held(self, node: str) -> None:
        held = self._held.pop(node, None)
        while held:
            await self._bus.publish(f"node:{node}", env.encode(held.popleft()))

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
                        observer=envelope.observer,
                    )
                    ice = _ice_decoder.decode(envelope.ice_servers)
                    self._join_local(
                        envelope.connection,
                        envelope.session,
                        principal,
                        message,
                        ice,
                        envelope.session_started_at,
                        envelope.media_mode,
                        restore=envelope.restore,
                        observers_hidden=envelope.observers_hidden,
                        routed=envelope.routed,
                    )
            case env.RoomFrame(session=session, connection=connection, frame=frame):
                try:
                    message = parse_client_message(frame)
                except ProtocolError:
                    return
                conn = ConnectionId(connection)
                self._apply(session, lambda room: room.handle(conn, message, self._clock()))
            case env.LeaveRoom(session=session, connection=connection, grace_s=grace):
                conn = ConnectionId(connection)
                self._apply(session, lambda room: room.disconnect(conn, self._clock(), grace))
            case env.Heartbeat(node=node, listening=listening):
                now = self._clock()
                self._watch.heard(node, now, listening)
                if node in self._held and self._watch.ready(node, now):
                    self._spawn(self._release_held(node))
            case env.Member(connection=connection, membership=membership):
                if connection in self._sockets:
                    self._memberships[connection] = membership
            case env.Rehome(session=session, connection=connection):
                self._spawn(self._rehome(session, connection))
            case env.EndRoom(session=session):
                self._end_local(session)
            case env.ObserversHidden(session=session, hidden=hidden):
                self._apply(session, lambda room: room.hide_observers(hidden))
            case env.FeedbackSubmitted(session=session, form=form, trainee=trainee):
                self._notify_feedback(session, form, trainee)
            case env.ChatStored(message=message):
                self._chat_stored_late(message)
            case env.RevokeSockets(subject=subject, login=login):
                for connection, (holder, holder_login) in list(self._holders.items()):
                    if holder == subject or holder_login == login:
                        self._close(connection, CLOSE_NOT_AUTHENTICATED, "signed out")


def _mark_id(effect: Effect) -> str | None:
    if isinstance(effect, Send) and isinstance(effect.message, MarkAdded):
        return effect.message.id
    return None


def _chat_id(effect: Effect) -> str | None:
    if isinstance(effect, Send) and isinstance(effect.message, ChatPosted):
        return effect.message.id
    return None


def _node_of(connection: str) -> str:
    return connection.split(".", 1)[0]


async def _quietly(step: Awaitable[None]) -> None:
    """A background step whose directory failure is expected now and then (Redis away)."""
    try:
        await step
    except DirectoryUnavailable as exc:
        log.warning("room directory unavailable", extra={"error": type(exc).__name__})


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("room background step failed", exc_info=task.exception())
