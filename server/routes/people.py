"""People in sessions: finding trainee accounts by name, and the guests a mentor admitted
(each of whom the mentor may link to the trainee account they turned out to have)."""

from __future__ import annotations

from typing import Annotated

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.access.policy import Action
from server.access.principal import Principal
from server.http.endpoints import Access, Endpoint
from server.http.errors import ApiError, json_response, read_body
from server.http.resources import session_for
from server.http.schemas import PersonOut
from server.infra.roles import Role
from server.infra.storage.login_sessions import Guest
from server.services import Services, services

__all__ = ["endpoints"]

MIN_QUERY = 2
MAX_QUERY = 80
MAX_RESULTS = 10


async def find_trainees(request: Request, principal: Principal | None) -> Response:
    """Trainee accounts whose name holds every word of ``q``: ids and names only (never an
    e-mail), a few at a time, so the search lists no more of the program than it must."""
    q = " ".join(request.query_params.get("q", "").split())
    if len(q) < MIN_QUERY:
        raise ApiError(422, "invalid", f"q: type at least {MIN_QUERY} letters of the name")
    if len(q) > MAX_QUERY:
        raise ApiError(422, "invalid", f"q: a name has at most {MAX_QUERY} characters")
    found = await services(request).store.users.search(q, role=Role.TRAINEE, limit=MAX_RESULTS)
    return json_response([PersonOut(u.id, u.name) for u in found])


class GuestOut(msgspec.Struct, frozen=True):
    id: str
    name: str
    """The name the guest gave at the invite link."""
    invite_id: str | None
    admitted_at: float
    linked_to: PersonOut | None
    """The trainee account the mentor said this guest is."""


class LinkGuest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    trainee_id: Annotated[str, msgspec.Meta(max_length=64)] | None
    """The trainee account; ``null`` undoes a link made by mistake."""


async def _guest_out(svc: Services, guest: Guest) -> GuestOut:
    linked = None
    if guest.linked_user_id is not None:
        user = await svc.store.users.get(guest.linked_user_id)
        linked = PersonOut(guest.linked_user_id, user.name if user else "")
    return GuestOut(guest.id, guest.display_name, guest.invite_id, guest.admitted_at, linked)


async def list_guests(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    session = await session_for(request, principal, Action.GUESTS_MANAGE)
    guests = await svc.store.login_sessions.admitted_guests(session.id)
    return json_response([await _guest_out(svc, g) for g in guests])


async def link_guest(request: Request, principal: Principal | None) -> Response:
    """The mentor says an admitted guest is this trainee account. The account is listed in the
    session (so feedback can be written for it and the trainee, signed in, sees the record) and
    the record names the guest's visit by it. The guest's own sign-in gains nothing: an invite
    grants presence only."""
    assert principal is not None
    svc = services(request)
    session = await session_for(request, principal, Action.GUESTS_MANAGE)
    guest_id = request.path_params["guest_id"]
    body = await read_body(request, LinkGuest)
    admitted = {g.id: g for g in await svc.store.login_sessions.admitted_guests(session.id)}
    if guest_id not in admitted:
        raise ApiError(404, "not-found", "no such guest in this session (only admitted guests)")
    if body.trainee_id is not None:
        trainee = await svc.store.users.get(body.trainee_id)
        if trainee is None or trainee.role is not Role.TRAINEE or trainee.disabled:
            raise ApiError(
                422,
                "invalid",
                "trainee_id: that is not a trainee account; pick one from the search",
            )
        if await svc.store.sessions.add_trainee(session.id, trainee.id):
            await svc.store.audit.append(
                "trainee.listed",
                actor_id=principal.id,
                target=session.id,
                detail={"trainee": trainee.id, "guest": guest_id},
            )
    await svc.store.login_sessions.link_guest(guest_id, session.id, body.trainee_id)
    await svc.store.audit.append(
        "guest.linked" if body.trainee_id else "guest.unlinked",
        actor_id=principal.id,
        target=session.id,
        detail={"guest": guest_id, **({"trainee": body.trainee_id} if body.trainee_id else {})},
    )
    guests = await svc.store.login_sessions.admitted_guests(session.id)
    return json_response(await _guest_out(svc, next(g for g in guests if g.id == guest_id)))


endpoints = [
    Endpoint(
        "GET",
        "/api/trainees",
        "Trainee accounts whose name holds every word of `q` (ids and names; mentors, admins).",
        "people",
        find_trainees,
        access=Access(action=Action.PEOPLE_SEARCH),
        response=list[PersonOut],
    ),
    Endpoint(
        "GET",
        "/api/sessions/{session_id}/guests",
        "The guests admitted through invite links, and the account each is linked to.",
        "people",
        list_guests,
        response=list[GuestOut],
    ),
    Endpoint(
        "POST",
        "/api/sessions/{session_id}/guests/{guest_id}/link",
        "Link an admitted guest to a trainee account (listed in the session), or unlink.",
        "people",
        link_guest,
        body=LinkGuest,
        response=GuestOut,
    ),
]
