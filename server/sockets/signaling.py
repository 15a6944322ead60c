"""``/ws/sessions/{session_id}``: the signaling socket (DESIGN.md §2).

The edge checks who is connecting (cookie or single-use ticket), from where (Origin allow-list)
and how much (frame size, rate), parses each frame once, and hands typed messages to the room hub.
Every refusal has its close code and is audited.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Coroutine

from starlette.websockets import WebSocket

from server.access.policy import Action, RoomEntry, may
from server.infra.ice import ice_servers_for
from server.infra.rate_limit import TokenBucket
from server.infra.roles import Role
from server.infra.storage import SessionStatus
from server.services import Services, services
from server.sockets.connection import CLOSE_TIMEOUT_S, QueuedSocket
from server.sockets.gate import Admitted, admit_socket
from signaling import (
    Admit,
    ClientMessage,
    Deny,
    ErrorMessage,
    Join,
    Mark,
    Ping,
    Pong,
    ProtocolError,
    RecordingCommand,
    parse_client_message,
    serialize,
)
from signaling import Principal as RoomPrincipal
from signaling import Role as RoomRole
from signaling.close_codes import CLOSE_NORMAL, CLOSE_POLICY, CLOSE_TOO_BIG

__all__ = ["signaling_socket"]

log = logging.getLogger("preceptor.signaling")

# A burst covers the offer/answer and the first flurry of ICE candidates; the sustained rate is
# far above what a well-behaved client sends.
RATE_PER_S = 20.0
BURST = 120.0
MAX_PROTOCOL_ERRORS = 10
# A socket that broke (no close frame: uvicorn's keepalive ping went unanswered, server/serving.py)
# after this long without a frame, though clients ping every 5 s (web/static/call/socket.js), was
# lost silently: its member has been gone a while and keeps its place for SILENT_GRACE_S only, so
# it leaves the others' view in ~20 s, not 70 (issue 13). A socket reset while the client was
# talking keeps the full grace: that is a phone changing networks.
SILENCE_S = 8.0
SILENT_GRACE_S = 8.0
_BROKEN = (1005, 1006, 1011)

# Each message asks the policy for its action; every other message is ROOM_TALK.
_ACTIONS: dict[type[ClientMessage], Action] = {
    Admit: Action.ROOM_ADMIT,
    Deny: Action.ROOM_ADMIT,
    Mark: Action.MARK_ADD,
    RecordingCommand: Action.ROOM_RECORD,
}

_ROOM_ROLES = {Role.MENTOR: RoomRole.MENTOR, Role.SUPERVISOR: RoomRole.SUPERVISOR}


async def signaling_socket(websocket: WebSocket) -> None:
    svc = services(websocket)
    admitted = await admit_socket(svc, websocket, Action.ROOM_ENTER)
    if admitted is None:
        return
    principal = admitted.principal
    room_principal = RoomPrincipal(
        subject=principal.id,
        role=_ROOM_ROLES.get(principal.role, RoomRole.TRAINEE),
        display_name=principal.name[:80] or "Guest",
        needs_admission=admitted.entry is RoomEntry.LOBBY,
        guest=principal.is_guest,
        observer=not may(principal, Action.MEDIA_PUBLISH, admitted.session),
    )
    await _serve(
        svc,
        websocket,
        _Reader(svc, admitted, room_principal),
        principal.session.token_hash,
    )


async def _serve(svc: Services, websocket: WebSocket, state: _Reader, login_hash: str) -> None:
    session_id = state.session_id
    socket = QueuedSocket(websocket, svc.rooms.new_connection_id())
    state.socket = socket
    svc.rooms.attach(socket, subject=state.principal.subject, login=login_hash)
    gauge = svc.metrics.sockets.labels(endpoint="signaling")
    gauge.inc()
    sender = socket.start()
    # The handler's own task reads (a task of its own per socket, and one more to watch for the
    # close, cost ~70 us a join: issue 8). Once the socket is to close from our side (1013,
    # 4409, 4410, ...) or cannot send, it stops reading, even if the client never sends
    # another frame; the sender flushes and closes.
    closing = socket.closed.watch()
    interrupt = _Interrupt()
    closing.add_done_callback(interrupt)
    sender.add_done_callback(interrupt)
    try:
        await interrupt.run(state.read(websocket))
    except Exception:
        log.exception("signaling socket failed", extra={"session": session_id})
    finally:
        closing.cancel()
        if state.joined:
            grace = SILENT_GRACE_S if state.silent else None
            await svc.rooms.detach(socket, session_id, grace_s=grace)
        else:
            svc.rooms.forget(socket)
        socket.close(CLOSE_NORMAL, "bye")
        gauge.dec()
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(sender, CLOSE_TIMEOUT_S + 1)


class _Interrupt:
    """Runs a coroutine in the current task, which a done future (the callback this is) stops
    by cancelling it there. Futures call back from the loop, never from inside the task, so
    the cancellation always lands at one of the coroutine's awaits."""

    __slots__ = ("_cancelled", "_requested", "_task")

    def __init__(self) -> None:
        self._task: asyncio.Task[object] | None = None
        self._requested = False
        self._cancelled = False

    def __call__(self, _done: asyncio.Future[None]) -> None:
        self._requested = True
        if self._task is not None and not self._cancelled:
            self._cancelled = True
            self._task.cancel()

    async def run(self, coroutine: Coroutine[object, object, None]) -> None:
        if self._requested:  # stopped before it started
            coroutine.close()
            return
        task = self._task = asyncio.current_task()
        assert task is not None
        try:
            await coroutine
        except asyncio.CancelledError:
            # Ours, unless someone else cancelled the task too (uvicorn shutting down).
            if not self._cancelled or task.uncancel() > 0:
                raise
        else:
            if self._cancelled:
                # Delivered, but swallowed on the way out: the request was ours to take back.
                task.uncancel()
        finally:
            self._task = None


class _Reader:
    """The inbound side of one socket: rate limit, parse once, hand to the hub."""

    socket: QueuedSocket

    def __init__(self, svc: Services, admitted: Admitted, principal: RoomPrincipal) -> None:
        self.svc = svc
        self.admitted = admitted
        self.session_id = admitted.session.id
        self.principal = principal
        self.session_started_at = admitted.session.started_at
        session = admitted.session
        if session.status is SessionStatus.SCHEDULED:
            # A member's socket opens the room, and an open room is a live session. Made once,
            # not for every frame (a copy of the dataclass each: issue 8).
            session = dataclasses.replace(session, status=SessionStatus.LIVE)
        self.live = session
        """The session as the policy sees it while this socket is open."""
        self.joined = False
        self.silent = False
        self.last_heard = time.monotonic()
        self.errors = 0
        self.bucket = TokenBucket(RATE_PER_S, BURST, time.monotonic())

    async def read(self, websocket: WebSocket) -> None:
        while not self.socket.closing:
            event = await websocket.receive()
            if event["type"] == "websocket.disconnect":
                quiet_for = time.monotonic() - self.last_heard
                self.silent = event.get("code") in _BROKEN and quiet_for >= SILENCE_S
                return
            frame = event.get("text")
            if frame is None:
                frame = (event.get("bytes") or b"").decode("utf-8", "replace")
            await self.frame(frame)

    def _refusal(self, message: ClientMessage) -> str | None:
        """The policy's word on this message from this member, or None if allowed."""
        decision = may(
            self.admitted.principal, _ACTIONS.get(type(message), Action.ROOM_TALK), self.live
        )
        return None if decision else decision.reason

    def _audit(self, action: str, **detail: str) -> None:
        self.svc.records.audit(
            action, session_id=self.session_id, actor_id=self.principal.subject, detail=detail
        )

    async def frame(self, frame: str) -> None:
        socket = self.socket
        now = self.last_heard = time.monotonic()
        admission = self.svc.admission
        # Per socket and per account across its sockets: reconnecting buys no new budget.
        if not self.bucket.take(now) or not admission.message(self.principal.subject, now):
            if admission.first_offence("messages", self.principal.subject, now):
                self._audit("rate-limited")
            socket.close(CLOSE_POLICY, "too many messages")
            return
        try:
            message = parse_client_message(frame)
        except ProtocolError as exc:
            self.errors += 1
            socket.send(serialize(ErrorMessage(code=exc.code, message=exc.message)))
            if exc.code == "too-big":
                socket.close(CLOSE_TOO_BIG, "message too big")
            elif self.errors >= MAX_PROTOCOL_ERRORS:
                self._audit("bad-messages", last=exc.code)
                socket.close(CLOSE_POLICY, "too many bad messages")
            return
        refusal = self._refusal(message)
        if refusal is not None:
            socket.send(serialize(ErrorMessage(code="forbidden", message=refusal)))
            return
        if isinstance(message, Ping):
            # Answered here, not by the room: it proves this socket alive (the client's silence
            # check) even while the room's node is away or its bus is down.
            socket.send(serialize(Pong(id=message.id)))
            return
        rooms = self.svc.rooms
        if self.joined:
            await rooms.receive(socket, self.session_id, message, frame)
        elif isinstance(message, Join):
            self.joined = True
            ice = ice_servers_for(self.svc.config, self.principal.subject, now=time.time())
            await rooms.join(
                socket,
                self.session_id,
                self.principal,
                message,
                frame,
                ice,
                session_started_at=self.session_started_at,
                media_mode=self.admitted.session.media_mode,
                observers_hidden=self.admitted.session.observers_hidden,
            )
        else:
            socket.send(serialize(ErrorMessage(code="join-first", message="send `join` first")))
