"""Administration: accounts, supervisor assignments and the audit log (admins only)."""

from __future__ import annotations

import time
from typing import Annotated

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.access.policy import Action
from server.access.principal import Principal
from server.http.endpoints import Access, Endpoint
from server.http.errors import ApiError, json_response, read_body
from server.http.schemas import Email, UserOut, user_out
from server.http.signin import client_ip
from server.infra.accounts import AccountError
from server.infra.roles import Role
from server.services import services

__all__ = ["endpoints"]

ADMIN = Access(action=Action.ACCOUNTS_MANAGE)
AUDITOR = Access(action=Action.AUDIT_READ)


class CreateUser(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    email: Email
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    role: Role
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class Assignment(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    supervisor_id: Annotated[str, msgspec.Meta(max_length=64)]
    trainee_id: Annotated[str, msgspec.Meta(max_length=64)]


class AssignmentOut(msgspec.Struct, frozen=True):
    supervisor_id: str
    supervisor_name: str
    trainee_id: str
    trainee_name: str


class ResetLink(msgspec.Struct, frozen=True):
    """A one-time link for the account's owner to choose a new password. The token rides in
    the URL's fragment, which browsers never send to a server, so no log or Referer holds it."""

    url: str
    expires_at: float


RESET_LINK_TTL_S = 24 * 3600.0


class AuditEventOut(msgspec.Struct, frozen=True):
    seq: int
    at: float
    actor_id: str | None
    action: str
    target: str | None
    ip: str | None
    detail: dict[str, str]
    hash: str


class ChainBreakOut(msgspec.Struct, frozen=True):
    seq: int
    reason: str


class AuditVerification(msgspec.Struct, frozen=True):
    checked: int
    intact: bool
    first_break: ChainBreakOut | None


_STATUS = {"not-found": 404, "duplicate-email": 409}


# What the admin pages show: a sentence with one piece of advice (the CLI prints the bare reason).
_ADVICE = {
    "not-found": "That account or assignment no longer exists; reload the page.",
    "duplicate-email": "An account with that e-mail address exists already; use another address.",
}


def _api_error(exc: AccountError) -> ApiError:
    reason = str(exc)
    message = (
        _ADVICE.get(exc.code) or f"{reason[:1].upper()}{reason[1:]}; correct it and try again."
    )
    if exc.code == "weak-password":
        message = f"The {reason}; choose another."
    return ApiError(_STATUS.get(exc.code, 422), exc.code, message)


async def list_users(request: Request, _: Principal | None) -> Response:
    role = request.query_params.get("role")
    if role is not None and role not in Role.__members__.values():
        raise ApiError(422, "invalid", f"role must be one of {', '.join(r.value for r in Role)}")
    users = await services(request).store.users.all(Role(role) if role else None)
    return json_response([user_out(u) for u in users])


async def create_user(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    body = await read_body(request, CreateUser)
    try:
        user = await services(request).accounts.create_user(
            email=body.email,
            name=body.name,
            role=body.role,
            password=body.password,
            actor_id=principal.id,
        )
    except AccountError as exc:
        raise _api_error(exc) from None
    return json_response(user_out(user), status=201)


async def _set_disabled(request: Request, principal: Principal | None, disabled: bool) -> Response:
    assert principal is not None
    user_id = request.path_params["user_id"]
    if disabled and user_id == principal.id:
        raise ApiError(
            409, "conflict", "You cannot disable your own account; ask another admin to do it."
        )
    svc = services(request)
    try:
        user = await svc.accounts.set_disabled(user_id, disabled, actor_id=principal.id)
    except AccountError as exc:
        raise _api_error(exc) from None
    if disabled:
        await svc.rooms.revoke(subject=user_id)
    return json_response(user_out(user))


async def disable_user(request: Request, principal: Principal | None) -> Response:
    return await _set_disabled(request, principal, True)


async def enable_user(request: Request, principal: Principal | None) -> Response:
    return await _set_disabled(request, principal, False)


async def create_assignment(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    body = await read_body(request, Assignment)
    try:
        await services(request).accounts.assign(
            body.supervisor_id, body.trainee_id, actor_id=principal.id
        )
    except AccountError as exc:
        raise _api_error(exc) from None
    return json_response(body, status=201)


async def delete_assignment(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    try:
        await services(request).accounts.unassign(
            request.path_params["supervisor_id"],
            request.path_params["trainee_id"],
            actor_id=principal.id,
        )
    except AccountError as exc:
        raise _api_error(exc) from None
    return Response(status_code=204)


async def list_assignments(request: Request, _: Principal | None) -> Response:
    pairs = await services(request).store.users.assignments()
    out = [AssignmentOut(s.id, s.name, t.id, t.name) for s, t in pairs]
    return json_response(out, headers={"Cache-Control": "no-store"})


async def create_reset_link(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    user = await svc.store.users.get(request.path_params["user_id"])
    if user is None:
        raise ApiError(404, "not-found", "There is no such account; reload the list.")
    if user.disabled:
        raise ApiError(
            409, "account-disabled", "This account is disabled; enable it before resetting."
        )
    now = time.time()
    token = await svc.store.users.open_reset(
        user.id, created_by=principal.id, now=now, ttl_s=RESET_LINK_TTL_S
    )
    await svc.store.audit.append(
        "password.reset-link", actor_id=principal.id, target=user.id, ip=client_ip(request)
    )
    link = ResetLink(f"{svc.config.public_url}/reset#{token}", now + RESET_LINK_TTL_S)
    return json_response(link, status=201, headers={"Cache-Control": "no-store"})


async def list_audit(request: Request, _: Principal | None) -> Response:
    raw_limit = request.query_params.get("limit", "100")
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 1000:
        raise ApiError(422, "invalid", "limit must be a whole number from 1 to 1000")
    events = await services(request).store.audit.recent(int(raw_limit))
    out = [
        AuditEventOut(e.seq, e.at, e.actor_id, e.action, e.target, e.ip, dict(e.detail), e.hash)
        for e in events
    ]
    return json_response(out, headers={"Cache-Control": "no-store"})


async def verify_audit(request: Request, _: Principal | None) -> Response:
    checked, broken = await services(request).store.audit.verify()
    first = None if broken is None else ChainBreakOut(broken.seq, broken.reason)
    return json_response(AuditVerification(checked, broken is None, first))


endpoints = [
    Endpoint(
        "GET",
        "/api/admin/users",
        "List accounts (optionally ?role=).",
        "admin",
        list_users,
        access=ADMIN,
        response=list[UserOut],
    ),
    Endpoint(
        "POST",
        "/api/admin/users",
        "Create an account.",
        "admin",
        create_user,
        access=ADMIN,
        body=CreateUser,
        response=UserOut,
        status=201,
    ),
    Endpoint(
        "POST",
        "/api/admin/users/{user_id}/disable",
        "Disable an account and end all its sessions.",
        "admin",
        disable_user,
        access=ADMIN,
        response=UserOut,
    ),
    Endpoint(
        "POST",
        "/api/admin/users/{user_id}/enable",
        "Enable an account again.",
        "admin",
        enable_user,
        access=ADMIN,
        response=UserOut,
    ),
    Endpoint(
        "POST",
        "/api/admin/users/{user_id}/password-reset",
        "Make a one-time link (24 hours) for the account's owner to choose a new password.",
        "admin",
        create_reset_link,
        access=ADMIN,
        response=ResetLink,
        status=201,
    ),
    Endpoint(
        "GET",
        "/api/admin/assignments",
        "Every supervisor↔trainee assignment.",
        "admin",
        list_assignments,
        access=ADMIN,
        response=list[AssignmentOut],
    ),
    Endpoint(
        "POST",
        "/api/admin/assignments",
        "Assign a trainee to a supervisor.",
        "admin",
        create_assignment,
        access=ADMIN,
        body=Assignment,
        response=Assignment,
        status=201,
    ),
    Endpoint(
        "DELETE",
        "/api/admin/assignments/{supervisor_id}/{trainee_id}",
        "Remove a supervisor↔trainee assignment.",
        "admin",
        delete_assignment,
        access=ADMIN,
        status=204,
    ),
    Endpoint(
        "GET",
        "/api/admin/audit",
        "The most recent audit events (?limit=, at most 1000).",
        "admin",
        list_audit,
        access=AUDITOR,
        response=list[AuditEventOut],
    ),
    Endpoint(
        "GET",
        "/api/admin/audit/verify",
        "Check the audit log's hash chain; reports the first broken link.",
        "admin",
        verify_audit,
        access=AUDITOR,
        response=AuditVerification,
    ),
]
