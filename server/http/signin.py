"""Who is asking: the login session behind the cookie, and the CSRF check (DESIGN.md §2, §5)."""

from __future__ import annotations

import hmac
import time

from starlette.requests import HTTPConnection
from starlette.responses import Response

from server.access.principal import Principal
from server.http.errors import ApiError
from server.infra.roles import Role
from server.infra.storage import LoginSession
from server.services import services

__all__ = ["authenticate", "check_csrf", "clear_session_cookie", "set_session_cookie"]

CSRF_HEADER = "x-csrf-token"


def client_ip(connection: HTTPConnection) -> str | None:
    return connection.client.host if connection.client else None


async def authenticate(connection: HTTPConnection) -> Principal | None:
    """The signed-in principal, or ``None`` (no cookie, unknown, revoked, timed out, disabled)."""
    svc = services(connection)
    token = connection.cookies.get(svc.config.session_cookie_name)
    if not token or len(token) > 200:
        return None
    session = await svc.store.login_sessions.resolve(token, now=time.time())
    if session is None:
        return None
    return await principal_of(connection, session)


async def principal_of(connection: HTTPConnection, session: LoginSession) -> Principal | None:
    user = None
    if session.user_id is not None:
        user = await services(connection).store.users.get(session.user_id)
        if user is None or user.disabled:
            return None
    if session.scope_session_id is not None:
        return Principal(
            id=user.id if user else str(session.guest_id),
            name=session.display_name or (user.name if user else "Guest"),
            role=Role.TRAINEE,
            user=user,
            session=session,
            scope_session_id=session.scope_session_id,
        )
    if user is None:
        return None
    return Principal(user.id, user.name, user.role, user, session)


async def require_principal(
    connection: HTTPConnection, roles: tuple[Role, ...] = (), *, guests: bool = False
) -> Principal:
    principal = await authenticate(connection)
    if principal is None:
        raise ApiError(401, "not-authenticated", "sign in first (or your session has expired)")
    if principal.is_guest:
        scoped_to = connection.path_params.get("session_id")
        if not guests or (scoped_to is not None and scoped_to != principal.scope_session_id):
            raise ApiError(403, "forbidden", "an invite link only opens its own session")
    if roles and not principal.has_role(*roles):
        raise ApiError(403, "forbidden", "your role does not allow this")
    return principal


def check_csrf(connection: HTTPConnection, principal: Principal) -> None:
    sent = connection.headers.get(CSRF_HEADER, "")
    if not sent:
        raise ApiError(403, "csrf", "the X-CSRF-Token header is missing")
    if not hmac.compare_digest(sent.encode(), principal.session.csrf_token.encode()):
        raise ApiError(403, "csrf", "the X-CSRF-Token header does not match your session")


def set_session_cookie(response: Response, connection: HTTPConnection, token: str) -> None:
    config = services(connection).config
    response.set_cookie(
        config.session_cookie_name,
        token,
        max_age=config.session_absolute_timeout_s,
        path="/",
        secure=config.https,
        httponly=True,
        samesite="lax",
    )


def clear_session_cookie(response: Response, connection: HTTPConnection) -> None:
    config = services(connection).config
    response.delete_cookie(
        config.session_cookie_name, path="/", secure=config.https, httponly=True, samesite="lax"
    )
