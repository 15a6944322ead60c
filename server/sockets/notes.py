"""``/ws/notes/{session_id}``: the y-websocket endpoint of a session's shared notes (DESIGN.md §2).

A stock Yjs ``WebsocketProvider`` connects with server URL ``…/ws/notes`` and room name = the
session id. Members edit while the session is live; afterwards only its mentor may (each such
change is audited); assigned supervisors only read.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from starlette.websockets import WebSocket

from server.infra.rate_limit import TokenBucket
from server.infra.roles import Role
from server.infra.storage import SessionStatus
from server.live.notes.hub import Author, ReadOnly
from server.live.rooms import SocketConnection
from server.services import Services, services
from server.sockets.gate import (
    CLOSE_NOT_ALLOWED,
    CLOSE_POLICY,
    CLOSE_TOO_BIG,
    Admitted,
    admit_socket,
)
from session_notes import InvalidUpdate, NotesProtocolError, SyncStep2, SyncUpdate, parse_frame

__all__ = ["can_edit_notes", "notes_socket"]

MAX_NOTES_FRAME = 512 * 1024
# Typing sends an update and an awareness change per keystroke; a paste is one update.
RATE_PER_S = 60.0
BURST = 400.0


def can_edit_notes(admitted: Admitted) -> bool:
    principal, session = admitted.principal, admitted.session
    if principal.role is Role.SUPERVISOR:
        return False
    if session.status is SessionStatus.ENDED:
        return principal.role is Role.MENTOR and not principal.is_guest
    return True


async def notes_socket(websocket: WebSocket) -> None:
    svc = services(websocket)
    admitted = await admit_socket(svc, websocket, allow_ended=True)
    if admitted is None:
        return
    session_id = admitted.session.id
    principal = admitted.principal
    ended = admitted.session.status is SessionStatus.ENDED
    socket = SocketConnection(websocket, svc.rooms.new_connection_id())
    svc.rooms.attach(socket, subject=principal.id, login=principal.session.token_hash)
    gauge = svc.metrics.sockets.labels(endpoint="notes")
    gauge.inc()
    sender = socket.start()
    author = Author(principal.id, principal.name)
    await svc.notes.join(session_id, socket, author, can_edit=can_edit_notes(admitted))
    reader = asyncio.create_task(_read(svc, websocket, socket, session_id, author, ended))
    try:
        await asyncio.wait({reader, sender}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await svc.notes.leave(session_id, socket)
        svc.rooms.forget(socket)
        socket.close(1000, "bye")
        gauge.dec()
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(sender, 3)


async def _read(
    svc: Services,
    websocket: WebSocket,
    socket: SocketConnection,
    session_id: str,
    author: Author,
    ended: bool,
) -> None:
    bucket = TokenBucket(RATE_PER_S, BURST, time.monotonic())

    def refuse(code: int, action: str, reason: str) -> None:
        svc.records.audit(action, session_id=session_id, actor_id=author.id, detail={"why": reason})
        socket.close(code, reason[:120])

    while not socket.closing:
        event = await websocket.receive()
        if event["type"] == "websocket.disconnect":
            return
        frame = event.get("bytes")
        if frame is None:
            refuse(CLOSE_POLICY, "notes.bad-frame", "y-websocket frames are binary")
            return
        if len(frame) > MAX_NOTES_FRAME:
            refuse(CLOSE_TOO_BIG, "notes.bad-frame", "frame too big")
            return
        if not bucket.take(time.monotonic()):
            refuse(CLOSE_POLICY, "notes.rate-limited", "too many messages")
            return
        try:
            message = parse_frame(frame)
            await svc.notes.handle(session_id, socket, message)
        except (NotesProtocolError, InvalidUpdate) as exc:
            refuse(CLOSE_POLICY, "notes.bad-frame", str(exc))
            return
        except ReadOnly as exc:
            refuse(CLOSE_NOT_ALLOWED, "notes.refused-edit", str(exc))
            return
        if ended and isinstance(message, SyncStep2 | SyncUpdate) and message.update != b"\x00\x00":
            # After the session, notes change only by the mentor, and every change is on record.
            svc.records.audit(
                "notes.edited-after-end", session_id=session_id, actor_id=author.id, detail={}
            )
