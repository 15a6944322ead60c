"""Who is asking: the login session behind the cookie, and the CSRF check (DESIGN.md §2, §5)."""

from __future__ import annotations

import hmac
import ipaddress
import time

from starlette.requests import HTTPConnection
from starlette.responses import Response

from server.access.principal import Principal
from server.http.errors import ApiError
from server.infra.roles import Role
from server.infra.storage import SignIn
from server.infra.storage.login_sessions import hash_token
from server.services import services

__all__ = ["authenticate", "check_csrf", "clear_session_cookie", "set_session_cookie"]

CSRF_HEADER = "x-csrf-token"


def client_ip(connection: HTTPConnection) -> str | None:
    """The client's address: the direct peer or, when the peer is a trusted proxy
    (``PRECEPTOR_TRUSTED_PROXIES``), the right-most ``X-Forwarded-For`` entry that is not itself a
    trusted proxy. Entries left of that are whatever the client chose to send: never trusted."""
    peer = connection.client.host if connection.client else None
    trusted = services(connection).config.trusted_proxies
    if peer is None or not _trusted(peer, trusted):
        return peer
    nearest = peer
    forwarded = ",".join(connection.headers.getlist("x-forwarded-for")).split(",")
    for hop in reversed([h.strip() for h in forwarded if h.strip()]):
        try:
            nearest = str(ipaddress.ip_address(hop))
        except ValueError:
            break  # a broken chain: keep the last hop that a trusted proxy vouched for
        if not _trusted(nearest, trusted):
            break
    return nearest


def _trusted(
    host: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in networks)


async def authenticate(connection: HTTPConnection) -> Principal | None:
    """The signed-in principal, or ``None`` (no cookie, unknown, revoked, timed out, disabled)."""
    svc = services(connection)
    token_hash = cookie_hash(connection)
    if token_hash is None:
        return None
    cached = svc.principals.get(token_hash)
    if cached is not None:
        return cached
    return remember(connection, await svc.store.sign_ins.resolve(token_hash, now=time.time()))


def cookie_hash(connection: HTTPConnection) -> str | None:
    """The hash of the sign-in cookie's token (what the store knows it by), if one was sent."""
    token = connection.cookies.get(services(connection).config.session_cookie_name)
    if not token or len(token) > 200:
        return None
    return hash_token(token)


def remember(connection: HTTPConnection, sign_in: SignIn | None) -> Principal | None:
    """The principal of a sign-in just read (``None``: none, or its account disabled), kept a
    moment for the next request of the same sign-in (``PrincipalCache``)."""
    principal = None if sign_in is None else principal_of(sign_in)
    if principal is not None:
        services(connection).principals.put(principal.session.token_hash, principal)
    return principal


def principal_of(sign_in: SignIn) -> Principal | None:
    session = sign_in.login
    if session.scope_session_id is not None:
        return Principal(
            id=str(session.guest_id),
            name=session.display_name or "Guest",
            role=Role.TRAINEE,
            user=None,
            session=session,
            scope_session_id=session.scope_session_id,
            admitted=session.admitted_at is not None,
        )
    user = sign_in.account
    if user is None or user.disabled:
        return None
    follows = sign_in.follows if user.role is Role.SUPERVISOR else frozenset()
    return Principal(user.id, user.name, user.role, user, session, follows=follows)


async def require_principal(connection: HTTPConnection) -> Principal:
    principal = await authenticate(connection)
    if principal is None:
        raise ApiError(401, "not-authenticated", "sign in first (or your session has expired)")
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
