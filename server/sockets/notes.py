"""``/ws/notes/{session_id}``: the y-websocket endpoint of a session's shared notes (DESIGN.md §2).

A stock Yjs ``WebsocketProvider`` connects with server URL ``…/ws/notes`` and room name = the
session id. Members edit while the session is live; afterwards only its mentor may (each such
change is audited); assigned supervisors only read. The policy answers on every change, against
the session as it is then; ending the session closes the sockets (4410). Each connection has a
budget of messages and of change bytes a second (1008 past it), and the document and its log a
size cap (1009).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from starlette.websockets import WebSocket

from server.access.policy import Action
from server.access.principal import Principal
from server.infra.rate_limit import TokenBucket
from server.infra.storage import Session
from server.live.notes.budget import ByteBucket
from server.live.notes.hub import AwarenessRefused, NotesFull, ReadOnly
from server.services import Services, services
from server.sockets.connection import CLOSE_TIMEOUT_S, QueuedSocket
from server.sockets.gate import admit_socket
from session_notes import (
    InvalidUpdate,
    NotesProtocolError,
    NotesStoreError,
    SyncStep2,
    SyncUpdate,
    parse_frame,
)
from signaling.close_codes import CLOSE_NOT_ALLOWED, CLOSE_POLICY, CLOSE_TOO_BIG, CLOSE_TRY_AGAIN

__all__ = ["notes_socket"]

log = logging.getLogger("preceptor.notes")

_NOT_SAVED = "try again: the notes could not be saved"

MAX_NOTES_FRAME = 512 * 1024
# Typing sends an update and an awareness change per keystroke; a paste is one update.
RATE_PER_S = 60.0
BURST = 400.0


async def notes_socket(websocket: WebSocket) -> None:
    svc = services(websocket)
    admitted = await admit_socket(svc, websocket, Action.NOTES_READ)
    if admitted is None:
        return
    session_id = admitted.session.id
    principal = admitted.principal
    socket = QueuedSocket(websocket, svc.rooms.new_connection_id())
    svc.rooms.attach(socket, subject=principal.id, login=principal.session.token_hash)
    gauge = svc.metrics.sockets.labels(endpoint="notes")
    gauge.inc()
    sender = socket.start()
    reader = asyncio.create_task(
        _join_and_read(svc, websocket, socket, admitted.session, principal)
    )
    try:
        await asyncio.wait({reader, sender}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        reader.cancel()
        try:
            await reader
        except asyncio.CancelledError:
            pass
        except Exception as exc:
            # Whatever went wrong, the member hears a close it can act on, never 1006.
            log.error("notes socket failed", extra={"error": type(exc).__name__})
            socket.close(CLOSE_TRY_AGAIN, _NOT_SAVED)
        await svc.notes.leave(session_id, socket)
        svc.rooms.forget(socket)
        socket.close(1000, "bye")
        gauge.dec()
        # The close frame may wait behind frames the client has not read yet: give it the time
        # signaling gives it, so a phone that reads again finds why it was closed, never 1006.
        with contextlib.suppress(TimeoutError, asyncio.CancelledError):
            await asyncio.wait_for(sender, CLOSE_TIMEOUT_S + 1)


async def _join_and_read(
    svc: Services,
    websocket: WebSocket,
    socket: QueuedSocket,
    session: Session,
    principal: Principal,
) -> None:
    try:
        # May edit or not is asked of the policy on every change, against the session as it is.
        await svc.notes.join(session, socket, principal)
        await _read(svc, websocket, socket, session.id, principal.id)
    except NotesStoreError:
        # The database refused a write or a read (it is logged where it failed). y-websocket
        # reconnects after a close like this one and re-sends what the server lacks.
        socket.close(CLOSE_TRY_AGAIN, _NOT_SAVED)


async def _read(
    svc: Services,
    websocket: WebSocket,
    socket: QueuedSocket,
    session_id: str,
    actor_id: str,
) -> None:
    limits = svc.notes.limits
    now = time.monotonic()
    messages = TokenBucket(RATE_PER_S, BURST, now)
    update_bytes = ByteBucket(limits.update_bytes_per_s, limits.update_bytes_burst, now)

    def refuse(code: int, action: str, reason: str, *, once: bool = False) -> None:
        # Budget refusals are audited once per member: a client that reconnects and tries
        # again (y-websocket does, forever) must not grow the audit log.
        if not once or svc.notes.first_refusal(session_id, actor_id, action):
            svc.records.audit(
                action, session_id=session_id, actor_id=actor_id, detail={"why": reason}
            )
        socket.close(code, reason[:120])

    while not socket.closing:
        event = await websocket.receive()
        if event["type"] == "websocket.disconnect" or socket.closing:
            return
        frame = event.get("bytes")
        if frame is None:
            refuse(CLOSE_POLICY, "notes.bad-frame", "y-websocket frames are binary")
            return
        if len(frame) > MAX_NOTES_FRAME:
            refuse(CLOSE_TOO_BIG, "notes.bad-frame", "frame too big")
            return
        if not messages.take(time.monotonic()):
            refuse(CLOSE_POLICY, "notes.rate-limited", "too many messages", once=True)
            return
        try:
            message = parse_frame(frame)
            if isinstance(message, SyncStep2 | SyncUpdate) and not update_bytes.take(
                time.monotonic(), len(message.update)
            ):
                refuse(
                    CLOSE_POLICY,
                    "notes.over-budget",
                    "too many bytes of changes a second",
                    once=True,
                )
                return
            edited_after_end = await svc.notes.handle(session_id, socket, message)
        except NotesProtocolError as exc:
            code = CLOSE_TOO_BIG if exc.code == "too-big" else CLOSE_POLICY
            refuse(code, "notes.bad-frame", str(exc))
            return
        except InvalidUpdate as exc:
            refuse(CLOSE_POLICY, "notes.bad-frame", str(exc))
            return
        except ReadOnly as exc:
            refuse(CLOSE_NOT_ALLOWED, "notes.refused-edit", str(exc))
            return
        except NotesFull as exc:
            refuse(CLOSE_TOO_BIG, "notes.too-big", str(exc), once=True)
            return
        except AwarenessRefused as exc:
            refuse(CLOSE_POLICY, "notes.awareness-refused", str(exc), once=True)
            return
        if edited_after_end:
            # After the session, notes change only by the mentor, and every change is on record.
            svc.records.audit(
                "notes.edited-after-end", session_id=session_id, actor_id=actor_id, detail={}
            )
