"""Invite links and socket tickets (DESIGN.md §2): how a trainee on a phone gets in."""

from __future__ import annotations

import math
import time
from typing import Annotated

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.access.policy import Action, may
from server.access.principal import Principal
from server.http.endpoints import ANYONE, Endpoint
from server.http.errors import ApiError, json_response, read_body
from server.http.resources import require, session_for
from server.http.schemas import Email
from server.http.signin import authenticate, client_ip, set_session_cookie
from server.infra.storage import GuestScope, Invite, InviteProblem, SessionStatus
from server.services import services

__all__ = ["endpoints"]

DAY_S = 24 * 3600

_PROBLEMS = {
    InviteProblem.UNKNOWN: (404, "this invite link is not valid; ask your mentor for a new one"),
    InviteProblem.EXPIRED: (410, "this invite link has expired; ask your mentor for a new one"),
    InviteProblem.REVOKED: (410, "this invite link was withdrawn; ask your mentor for a new one"),
    InviteProblem.DENIED: (
        410,
        "the mentor did not let you in with this link; if that was a mistake, ask them for a "
        "new one",
    ),
    InviteProblem.USED_UP: (410, "this invite link was used up; ask your mentor for a new one"),
}


class CreateInvite(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=80)] | None = None
    email: Email | None = None
    trainee_id: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    expires_in_s: Annotated[int, msgspec.Meta(ge=60, le=7 * DAY_S)] = DAY_S
    max_uses: Annotated[int, msgspec.Meta(ge=1, le=20)] = 5


class InviteCreated(msgspec.Struct, frozen=True):
    id: str
    url: str
    token: str
    expires_at: float
    name: str | None


class InviteOut(msgspec.Struct, frozen=True):
    id: str
    name: str | None
    email: str | None
    trainee_id: str | None
    expires_at: float
    uses: int
    max_uses: int
    revoked: bool
    state: str
    """"open", or why it cannot be used: "revoked" (withdrawn), "denied" (someone who used it
    was denied in the lobby, which withdraws it), "expired", "used-up"."""


class InviteInfo(msgspec.Struct, frozen=True):
    session_title: str
    mentor_name: str
    invitee_name: str | None
    expires_at: float
    session_id: str
    ended: bool
    """The session is over: the link admits nobody any more."""
    for_account: bool
    """Made for a trainee's account: that trainee takes part signed in, or else as a guest."""
    signed_in_as_invitee: bool
    """The caller is signed in to that very account (and may go straight to the call)."""


class Redeem(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    display_name: Annotated[str, msgspec.Meta(min_length=1, max_length=80)] | None = None


class Redeemed(msgspec.Struct, frozen=True):
    csrf_token: str
    session_id: str


class TicketRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    session_id: Annotated[str, msgspec.Meta(max_length=64)]


class Ticket(msgspec.Struct, frozen=True):
    ticket: str
    expires_at: float


def _invite_out(invite: Invite, now: float) -> InviteOut:
    problem = invite.problem(now)
    return InviteOut(
        invite.id,
        invite.name,
        invite.email,
        invite.trainee_id,
        invite.expires_at,
        invite.uses,
        invite.max_uses,
        invite.revoked_at is not None,
        problem.value if problem else "open",
    )


async def create_invite(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    session = await session_for(request, principal, Action.INVITES_MANAGE)
    body = await read_body(request, CreateInvite)
    name = body.name.strip() if body.name else None
    if body.trainee_id is not None:
        if body.trainee_id not in session.trainee_ids:
            raise ApiError(422, "invalid", "trainee_id: not a trainee of this session")
        trainee = await svc.store.users.get(body.trainee_id)
        name = name or (trainee.name if trainee else None)
    if not name:
        raise ApiError(422, "invalid", "name: say who the invite is for (or give trainee_id)")
    token, invite = await svc.store.invites.create(
        session_id=session.id,
        created_by=principal.id,
        trainee_id=body.trainee_id,
        name=name,
        email=body.email,
        expires_in_s=body.expires_in_s,
        max_uses=body.max_uses,
    )
    await svc.store.audit.append(
        "invite.created", actor_id=principal.id, target=session.id, detail={"invite": invite.id}
    )
    url = f"{svc.config.public_url}/join/{token}"
    return json_response(
        InviteCreated(invite.id, url, token, invite.expires_at, invite.name),
        status=201,
        headers={"Cache-Control": "no-store"},
    )


async def list_invites(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    session = await session_for(request, principal, Action.INVITES_LIST)
    invites = await services(request).store.invites.for_session(session.id)
    now = time.time()
    return json_response([_invite_out(i, now) for i in invites])


async def revoke_invite(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    session = await session_for(request, principal, Action.INVITES_MANAGE)
    invite_id = request.path_params["invite_id"]
    now = time.time()
    if not await svc.store.invites.revoke(session.id, invite_id, now=now):
        raise ApiError(404, "not-found", "no such invite, or it was already revoked")
    # Withdrawing a link ends every sign-in made through it, and their open sockets.
    for login in await svc.store.login_sessions.revoke_invite(invite_id, now=now):
        await svc.rooms.revoke(login=login)
    await svc.store.audit.append(
        "invite.revoked", actor_id=principal.id, target=session.id, detail={"invite": invite_id}
    )
    return Response(status_code=204)


async def _limit_invite_requests(request: Request) -> None:
    """Invite tokens are guessed one request at a time: cap look-ups and redemptions per client
    address (before any database work or audit row, so a flood costs neither)."""
    svc = services(request)
    wait = await svc.invite_requests_by_ip.attempt(client_ip(request) or "unknown", time.time())
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise ApiError(
            429,
            "too-many-requests",
            f"too many invite link requests from your address; try again in {seconds} seconds",
            headers={"Retry-After": str(seconds)},
        )


async def invite_info(request: Request, _: Principal | None) -> Response:
    await _limit_invite_requests(request)
    svc = services(request)
    invite = await svc.store.invites.find(request.path_params["token"])
    problem = InviteProblem.UNKNOWN if invite is None else invite.problem(time.time())
    session = None if invite is None else await svc.store.sessions.get(invite.session_id)
    ended = session is not None and session.status is SessionStatus.ENDED
    # After the end a link that was not withdrawn says so (and the page offers the record to
    # whoever may still read it) rather than "expired" or "used up", which would send the
    # person back to the mentor for a link that can no longer help.
    if ended and problem in (InviteProblem.EXPIRED, InviteProblem.USED_UP):
        problem = None
    if problem is not None or invite is None or session is None:
        status, message = _PROBLEMS[problem or InviteProblem.UNKNOWN]
        raise ApiError(status, f"invite-{(problem or InviteProblem.UNKNOWN).value}", message)
    mentor = await svc.store.users.get(session.mentor_id)
    caller = await authenticate(request) if invite.trainee_id else None
    as_invitee = caller is not None and not caller.is_guest and caller.id == invite.trainee_id
    return json_response(
        InviteInfo(
            session.title,
            mentor.name if mentor else "",
            invite.name,
            invite.expires_at,
            session.id,
            ended,
            invite.trainee_id is not None,
            as_invitee,
        ),
        headers={"Cache-Control": "no-store"},
    )


async def redeem_invite(request: Request, _: Principal | None) -> Response:
    await _limit_invite_requests(request)
    svc = services(request)
    body = await read_body(request, Redeem)
    ip = client_ip(request)
    now = time.time()
    found = await svc.store.invites.find(request.path_params["token"])
    session = None if found is None else await svc.store.sessions.get(found.session_id)
    if session is not None and session.status is SessionStatus.ENDED:
        raise ApiError(410, "session-ended", "this session has ended")
    outcome = await svc.store.invites.use(request.path_params["token"], now=now)
    if isinstance(outcome, InviteProblem):
        await svc.store.audit.append(
            "invite.refused",
            target=found.session_id if found else None,
            ip=ip,
            detail={"reason": outcome.value},
        )
        status, message = _PROBLEMS[outcome]
        raise ApiError(status, f"invite-{outcome.value}", message)
    invite = outcome
    display_name = (body.display_name or invite.name or "").strip()
    if not display_name:
        raise ApiError(422, "invalid", "display_name: tell the mentor who you are")
    previous = await authenticate(request)
    if previous is not None:
        await svc.store.login_sessions.revoke(previous.session.token_hash, now=now)
    token, login = await svc.store.login_sessions.open_guest(
        GuestScope(invite.session_id, display_name, invite.id, invite.trainee_id),
        now=now,
        ip=ip,
        user_agent=request.headers.get("user-agent"),
    )
    await svc.store.audit.append(
        "invite.redeemed",
        actor_id=login.guest_id,
        target=invite.session_id,
        ip=ip,
        detail={"invite": invite.id},
    )
    response = json_response(Redeemed(login.csrf_token, invite.session_id))
    set_session_cookie(response, request, token)
    return response


async def issue_ticket(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    body = await read_body(request, TicketRequest)
    session = await svc.store.sessions.get(body.session_id)
    if session is None:
        raise ApiError(404, "not-found", "no such session")
    require(may(principal, Action.ROOM_ENTER, session))
    ticket, expires_at = await svc.store.tickets.issue(
        login_token_hash=principal.session.token_hash, session_id=session.id, now=time.time()
    )
    return json_response(Ticket(ticket, expires_at), headers={"Cache-Control": "no-store"})


endpoints = [
    Endpoint(
        "POST",
        "/api/sessions/{session_id}/invites",
        "Create an invite link for one named invitee (the session's mentor).",
        "invites",
        create_invite,
        body=CreateInvite,
        response=InviteCreated,
        status=201,
    ),
    Endpoint(
        "GET",
        "/api/sessions/{session_id}/invites",
        "The session's invites (no tokens).",
        "invites",
        list_invites,
        response=list[InviteOut],
    ),
    Endpoint(
        "POST",
        "/api/sessions/{session_id}/invites/{invite_id}/revoke",
        "Withdraw an invite link.",
        "invites",
        revoke_invite,
        status=204,
    ),
    Endpoint(
        "GET",
        "/api/invites/{token}",
        "What an invite link is for (public).",
        "invites",
        invite_info,
        access=ANYONE,
        response=InviteInfo,
    ),
    Endpoint(
        "POST",
        "/api/invites/{token}/redeem",
        "Enter through an invite link: a guest session bound to that one session.",
        "invites",
        redeem_invite,
        access=ANYONE,
        body=Redeem,
        response=Redeemed,
    ),
    Endpoint(
        "POST",
        "/api/tickets",
        "A single-use ticket (60 s) to open the signaling socket without cookies.",
        "invites",
        issue_ticket,
        body=TicketRequest,
        response=Ticket,
    ),
]
