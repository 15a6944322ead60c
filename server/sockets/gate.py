"""Who may open a session's socket (signaling or notes): the checks both endpoints share.

Origin first (Starlette's CORS middleware does not look at WebSocket handshakes, DESIGN.md §5),
then the principal (session cookie, or a single-use ticket), then the session and the
principal's place in it. Each refusal closes with its code (§2) and is audited.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from starlette.websockets import WebSocket

from server.access.policy import RoomEntry, room_entry
from server.access.principal import Principal
from server.http.resources import followed_by
from server.http.signin import authenticate, client_ip, principal_of
from server.infra.storage import Session, SessionStatus
from server.services import Services

__all__ = [
    "CLOSE_ENDED",
    "CLOSE_NOT_ALLOWED",
    "CLOSE_NOT_AUTHENTICATED",
    "CLOSE_NO_SESSION",
    "CLOSE_POLICY",
    "CLOSE_TOO_BIG",
    "Admitted",
    "admit_socket",
]

CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_NOT_ALLOWED = 4403
CLOSE_NO_SESSION = 4404
CLOSE_ENDED = 4410


@dataclass(frozen=True)
class Admitted:
    principal: Principal
    session: Session
    entry: RoomEntry


async def refuse(
    svc: Services, websocket: WebSocket, code: int, reason: str, **detail: str
) -> None:
    await svc.store.audit.append(
        "socket.refused",
        target=websocket.path_params.get("session_id"),
        ip=client_ip(websocket),
        detail={
            "code": str(code),
            "reason": reason,
            "path": websocket.url.path.split("/")[2],
            **detail,
        },
    )
    await websocket.close(code, reason)


async def _authenticate(svc: Services, websocket: WebSocket, session_id: str) -> Principal | None:
    ticket = websocket.query_params.get("ticket")
    if ticket is None:
        return await authenticate(websocket)
    if len(ticket) > 200:
        return None
    login_hash = await svc.store.tickets.redeem(ticket, session_id=session_id, now=time.time())
    if login_hash is None:
        return None
    login = await svc.store.login_sessions.resolve_hash(login_hash, now=time.time())
    return None if login is None else await principal_of(websocket, login)


async def admit_socket(
    svc: Services, websocket: WebSocket, *, allow_ended: bool = False
) -> Admitted | None:
    """Accept the handshake and check it; None (socket closed, refusal audited) if refused."""
    session_id = websocket.path_params["session_id"]
    await websocket.accept()
    origin = websocket.headers.get("origin")
    if origin not in svc.config.allowed_origins:
        await refuse(svc, websocket, CLOSE_NOT_ALLOWED, "origin not allowed", origin=origin or "")
        return None
    principal = await _authenticate(svc, websocket, session_id)
    if principal is None:
        await refuse(svc, websocket, CLOSE_NOT_AUTHENTICATED, "not authenticated")
        return None
    session = await svc.store.sessions.get(session_id)
    if session is None:
        await refuse(svc, websocket, CLOSE_NO_SESSION, "no such session", actor=principal.id)
        return None
    if session.status is SessionStatus.ENDED and not allow_ended:
        await websocket.close(CLOSE_ENDED, "session ended")
        return None
    entry = room_entry(principal, session, await followed_by(svc, principal))
    if entry is RoomEntry.REFUSED:
        await refuse(svc, websocket, CLOSE_NOT_ALLOWED, "not a member", actor=principal.id)
        return None
    return Admitted(principal, session, entry)
