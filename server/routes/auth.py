"""Signing in and out: ``/api/auth/login``, ``/api/auth/logout``, ``/api/me``; choosing a new
password through a one-time reset link (``/api/password-resets``)."""

from __future__ import annotations

import hashlib
import hmac
import math
import time
from typing import Annotated

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.access.principal import Principal
from server.http.endpoints import ANYONE, Endpoint
from server.http.errors import ApiError, json_response, read_body
from server.http.schemas import Email, UserOut, user_out
from server.http.signin import authenticate, clear_session_cookie, client_ip, set_session_cookie
from server.infra.passwords import password_problem
from server.infra.storage.users import normalize_email
from server.services import services

__all__ = ["endpoints"]


class LoginRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Email
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


Token = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]


class ResetLookup(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    token: Token


class ResetFor(msgspec.Struct, frozen=True):
    name: str
    expires_at: float


class NewPassword(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    token: Token
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


_DEAD_LINK = ApiError(
    410,
    "reset-link-dead",
    "This link has expired or was used already; ask your administrator for a new one.",
)


class SessionOut(msgspec.Struct, frozen=True):
    user: UserOut
    csrf_token: str
    scope_session_id: str | None = None
    """Set for a guest who came through an invite link: the one session it may open."""


def _email_ref(secret_key: str, email: str) -> str:
    """What the audit log keeps of an e-mail typed at sign-in: a keyed digest. Typed e-mails
    are attacker-chosen text of any length (up to 320 characters) and personal data; the digest
    fits the column and still lets an investigator match attempts against one address."""
    digest = hmac.new(secret_key.encode(), email.encode(), hashlib.sha256).hexdigest()
    return f"email-hmac:{digest[:32]}"


def _too_many(wait: float) -> ApiError:
    seconds = max(1, math.ceil(wait))
    return ApiError(
        429,
        "too-many-attempts",
        f"Too many failed sign-ins; try again in {seconds} seconds.",
        headers={"Retry-After": str(seconds)},
    )


async def login(request: Request, _: Principal | None) -> Response:
    svc = services(request)
    body = await read_body(request, LoginRequest)
    email = normalize_email(body.email)
    target = _email_ref(svc.config.secret_key, email)
    ip = client_ip(request) or "unknown"
    now = time.time()
    # Count the attempt before the password is checked, in one atomic step per key, so
    # parallel guesses cannot all slip under the limit. The address goes first: an address
    # already refused does not also use up the account's budget.
    wait = await svc.login_failures_by_ip.attempt(ip, now)
    if wait <= 0:
        wait = await svc.login_failures_by_account.attempt(email, now)
        if wait > 0:
            await svc.login_failures_by_ip.forgive(ip, now)
    if wait > 0:
        svc.metrics.logins.labels(outcome="throttled").inc()
        # A flood of refused guesses is one audit row a minute with its count (the metric has
        # them all), not a row per request: an attacker must not be able to grow the log.
        count = svc.throttled_logins.due(time.monotonic())
        if count is not None:
            await svc.store.audit.append(
                "login.throttled", target=target, ip=ip, detail={"count": str(count)}
            )
        raise _too_many(wait)
    found = await svc.store.users.credentials(email)
    user, password_hash = found if found is not None else (None, None)
    verified = await svc.passwords.verify(password_hash, body.password)
    if not verified or user is None or user.disabled:
        # A disabled account answers exactly as a wrong password does, whatever was typed:
        # the answer must not tell a guesser that the password was right.
        if user is None:
            reason, outcome = "unknown-user", "failed"
        elif user.disabled:
            reason, outcome = "account-disabled", "disabled"
        else:
            reason, outcome = "wrong-password", "failed"
        svc.metrics.logins.labels(outcome=outcome).inc()
        await svc.store.audit.append(
            "login.failed",
            actor_id=user.id if user else None,
            target=target,
            ip=ip,
            detail={"reason": reason},
        )
        raise ApiError(
            401, "invalid-credentials", "Wrong e-mail or password; check both and try again."
        )
    # A successful sign-in was not a guess: it clears the account's count and takes back this
    # attempt from the address's (many people may sign in from one clinic's address).
    await svc.login_failures_by_account.reset(email)
    await svc.login_failures_by_ip.forgive(ip, now)
    if password_hash is not None and svc.passwords.needs_rehash(password_hash):
        await svc.store.users.set_password_hash(user.id, await svc.passwords.hash(body.password))
    # Rotation: whatever session this browser had before is ended, and a fresh token issued.
    previous = await authenticate(request)
    wall_now = time.time()
    if previous is not None:
        await svc.store.login_sessions.revoke(previous.session.token_hash, now=wall_now)
    token, session = await svc.store.login_sessions.open(
        user.id, now=wall_now, ip=ip, user_agent=request.headers.get("user-agent")
    )
    svc.metrics.logins.labels(outcome="ok").inc()
    await svc.store.audit.append("login", actor_id=user.id, ip=ip)
    response = json_response(SessionOut(user_out(user), session.csrf_token))
    set_session_cookie(response, request, token)
    return response


# The reset token travels in the body, never in a URL: it comes from the page's fragment.
async def lookup_reset(request: Request, _: Principal | None) -> Response:
    body = await read_body(request, ResetLookup)
    found = await services(request).store.users.reset_holder(body.token, now=time.time())
    if found is None or found[0].disabled:
        raise _DEAD_LINK
    user, expires_at = found
    return json_response(ResetFor(user.name, expires_at), headers={"Cache-Control": "no-store"})


async def reset_password(request: Request, _: Principal | None) -> Response:
    svc = services(request)
    body = await read_body(request, NewPassword)
    problem = password_problem(body.password)
    if problem is not None:
        raise ApiError(
            422, "weak-password", f"The {problem}; choose another.", fields={"password": problem}
        )
    now = time.time()
    found = await svc.store.users.reset_holder(body.token, now=now)
    if found is None or found[0].disabled:
        raise _DEAD_LINK
    user_id = await svc.store.users.spend_reset(
        body.token, await svc.passwords.hash(body.password), now=now
    )
    if user_id is None:  # the link was spent by a racing request since the look-up
        raise _DEAD_LINK
    # Whoever knew the old password is signed out everywhere, sockets included; this browser
    # gets a fresh sign-in of its own.
    await svc.store.login_sessions.revoke_all(user_id, now=now)
    await svc.rooms.revoke(subject=user_id)
    ip = client_ip(request)
    await svc.store.audit.append("password.reset", actor_id=user_id, target=user_id, ip=ip)
    token, session = await svc.store.login_sessions.open(
        user_id, now=now, ip=ip, user_agent=request.headers.get("user-agent")
    )
    user = await svc.store.users.get(user_id)
    assert user is not None
    response = json_response(SessionOut(user_out(user), session.csrf_token))
    set_session_cookie(response, request, token)
    return response


async def logout(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    await svc.store.login_sessions.revoke(principal.session.token_hash, now=time.time())
    await svc.rooms.revoke(login=principal.session.token_hash)
    await svc.store.audit.append("logout", actor_id=principal.id, ip=client_ip(request))
    response = Response(status_code=204)
    clear_session_cookie(response, request)
    return response


async def me(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    user = UserOut(principal.id, "", principal.name, principal.role, False)
    if principal.user is not None and not principal.is_guest:
        user = user_out(principal.user)
    response = json_response(
        SessionOut(user, principal.session.csrf_token, principal.scope_session_id)
    )
    response.headers["Cache-Control"] = "no-store"
    return response


endpoints = [
    Endpoint(
        "POST",
        "/api/auth/login",
        "Sign in with e-mail and password; sets the session cookie.",
        "auth",
        login,
        access=ANYONE,
        body=LoginRequest,
        response=SessionOut,
    ),
    Endpoint(
        "POST",
        "/api/password-resets/lookup",
        "Whose account a one-time reset link is for (the token in the body, not the URL).",
        "auth",
        lookup_reset,
        access=ANYONE,
        body=ResetLookup,
        response=ResetFor,
    ),
    Endpoint(
        "POST",
        "/api/password-resets",
        "Choose a new password with a one-time reset link; ends the account's other sign-ins.",
        "auth",
        reset_password,
        access=ANYONE,
        body=NewPassword,
        response=SessionOut,
    ),
    Endpoint(
        "POST",
        "/api/auth/logout",
        "End this session.",
        "auth",
        logout,
        status=204,
    ),
    Endpoint(
        "GET",
        "/api/me",
        "The signed-in user and the CSRF token for state-changing requests.",
        "auth",
        me,
        response=SessionOut,
    ),
]
