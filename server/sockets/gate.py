"""Who may open a session's socket (signaling or notes): the checks both endpoints share.

Origin first (Starlette's CORS middleware does not look at WebSocket handshakes, DESIGN.md §5),
then the principal (session cookie, or a single-use ticket), then the session, and the policy's
answer for the socket's action. Each refusal closes with its code (§2). Refusals by a signed-in
principal are audited; anonymous ones are counted in metrics and sampled into the audit log, so
a flood of them cannot grow the log (one row a minute at most).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from starlette.websockets import WebSocket

from server.access.policy import Action, RoomEntry, may, room_entry
from server.access.principal import Principal
from server.http.signin import client_ip, cookie_hash, remember
from server.infra.storage import UNAVAILABLE, Session
from server.services import Services
from signaling.close_codes import (
    CLOSE_ENDED,
    CLOSE_NO_SESSION,
    CLOSE_NOT_ALLOWED,
    CLOSE_NOT_AUTHENTICATED,
    CLOSE_POLICY,
    CLOSE_TRY_AGAIN,
    NOT_ALLOWED_REASONS,
    REASON_ORIGIN,
)

__all__ = ["Admitted", "admit_socket"]

log = logging.getLogger("preceptor.sockets")

_MAX_ID = 64
_CLOSE_FOR_STATUS = {404: CLOSE_NO_SESSION, 410: CLOSE_ENDED}


@dataclass(frozen=True)
class Admitted:
    principal: Principal
    session: Session
    entry: RoomEntry


def _endpoint(websocket: WebSocket) -> str:
    """The path's second segment, "sessions" or "notes" (the route matched it); from the
    scope, as ``websocket.url`` builds a whole URL for it (a cost every handshake paid)."""
    path: str = websocket.scope["path"]
    return path.split("/")[2]


async def refuse(
    svc: Services,
    websocket: WebSocket,
    code: int,
    reason: str,
    principal: Principal | None = None,
    **detail: str,
) -> None:
    endpoint = _endpoint(websocket)
    svc.metrics.socket_refusals.labels(endpoint=endpoint, code=str(code)).inc()
    session_id = websocket.path_params.get("session_id", "")[:_MAX_ID]
    if principal is not None:
        await svc.store.audit.append(
            "socket.refused",
            actor_id=principal.id,
            target=session_id,
            ip=client_ip(websocket),
            detail={"code": str(code), "reason": reason, "path": endpoint, **detail},
        )
    else:
        count = svc.anonymous_refusals.due(time.monotonic())
        if count is not None:
            await svc.store.audit.append(
                "socket.refused-anonymous",
                ip=client_ip(websocket),
                detail={"code": str(code), "reason": reason, "path": endpoint, "count": str(count)},
            )
    await websocket.close(code, reason)


async def _sign_in(
    svc: Services, websocket: WebSocket, session_id: str
) -> tuple[Principal | None, Session | None]:
    """Who is connecting (cookie, or a single-use ticket) and, when someone is, the session;
    read together, in one step, unless the principal was just looked up (issue 8)."""
    ticket = websocket.query_params.get("ticket")
    if ticket is None:
        login_hash = cookie_hash(websocket)
    elif len(ticket) > 200:
        return None, None
    else:
        login_hash = await svc.store.tickets.redeem(ticket, session_id=session_id, now=time.time())
    if login_hash is None:
        return None, None
    cached = svc.principals.get(login_hash)
    if cached is not None:
        return cached, await svc.store.sessions.get(session_id)
    sign_in, session = await svc.store.sign_ins.resolve_with_session(
        login_hash, session_id, now=time.time()
    )
    return remember(websocket, sign_in), session


async def admit_socket(svc: Services, websocket: WebSocket, action: Action) -> Admitted | None:
    """Accept the handshake and check it against the policy's ``action`` (``ROOM_ENTER`` for
    signaling, ``NOTES_READ`` for notes); None (socket closed) if refused. A database that
    cannot answer now (its pool exhausted under a burst) closes 1013: the page comes back after
    its back-off, instead of an unhandled error closing 1011 and a traceback per socket."""
    try:
        return await _admit(svc, websocket, action)
    except UNAVAILABLE as exc:
        log.warning("socket refused: storage unavailable", extra={"error": type(exc).__name__})
        await websocket.close(CLOSE_TRY_AGAIN, "try again")
        return None


async def _admit(svc: Services, websocket: WebSocket, action: Action) -> Admitted | None:
    session_id = websocket.path_params["session_id"]
    await websocket.accept()
    endpoint = _endpoint(websocket)
    address = client_ip(websocket)
    if not await svc.admission.open_from_address(endpoint, address, time.time()):
        await _too_many(svc, websocket, f"address:{address}", "too many connections", None)
        return None
    origin = websocket.headers.get("origin")
    if origin not in svc.config.allowed_origins:
        # Its own reason, so the page blames the address it was opened at (the operator's
        # PRECEPTOR_PUBLIC_URL), not a mentor (signaling/close_codes.py).
        await refuse(svc, websocket, CLOSE_NOT_ALLOWED, REASON_ORIGIN)
        return None
    if len(session_id) > _MAX_ID:
        await refuse(svc, websocket, CLOSE_NO_SESSION, "no such session")
        return None
    principal, session = await _sign_in(svc, websocket, session_id)
    if principal is None:
        await refuse(svc, websocket, CLOSE_NOT_AUTHENTICATED, "not authenticated")
        return None
    if not await svc.admission.open_by_account(endpoint, principal.id, time.time()):
        await _too_many(
            svc, websocket, f"account:{principal.id}", "too many connections", principal
        )
        return None
    if session is None:
        await refuse(svc, websocket, CLOSE_NO_SESSION, "no such session", principal)
        return None
    decision = may(principal, action, session)
    if not decision:
        code = _CLOSE_FOR_STATUS.get(decision.status, CLOSE_NOT_ALLOWED)
        if code == CLOSE_ENDED:
            await websocket.close(code, "session ended")
        else:
            # A refusal the page explains in its own words is named exactly (close_codes.py).
            named = decision.error in NOT_ALLOWED_REASONS
            reason = decision.error if named else decision.reason[:120]
            await refuse(svc, websocket, code, reason, principal)
        return None
    return Admitted(principal, session, room_entry(principal, session))


async def _too_many(
    svc: Services, websocket: WebSocket, key: str, reason: str, principal: Principal | None
) -> None:
    """A flood of handshakes: refused with 1008, counted in metrics every time, audited once
    per key and window (a reconnect loop must not grow the audit log by a row a socket)."""
    endpoint = _endpoint(websocket)
    svc.metrics.socket_refusals.labels(endpoint=endpoint, code=str(CLOSE_POLICY)).inc()
    if svc.admission.first_offence("socket-opens", key, time.monotonic()):
        await svc.store.audit.append(
            "socket.flood",
            actor_id=principal.id if principal is not None else None,
            target=websocket.path_params.get("session_id", "")[:_MAX_ID],
            ip=client_ip(websocket),
            detail={"code": str(CLOSE_POLICY), "reason": reason, "path": endpoint},
        )
    await websocket.close(CLOSE_POLICY, reason)
