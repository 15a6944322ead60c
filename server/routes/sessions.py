"""Sessions: create, list, read, end (DESIGN.md §2)."""

from __future__ import annotations

import time
from typing import Annotated, Literal

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.access.policy import Action
from server.access.principal import Principal
from server.http.endpoints import Access, Endpoint
from server.http.errors import ApiError, json_response, read_body
from server.http.resources import session_for
from server.http.schemas import SessionOut, session_out
from server.infra.roles import Role
from server.services import services

__all__ = ["endpoints"]


TraineeId = Annotated[str, msgspec.Meta(max_length=64)]
# Epoch seconds, up to the year 2100: a start time, not an arbitrary float for the column.
StartTime = Annotated[float, msgspec.Meta(ge=0, le=4_102_444_800)]


class CreateSession(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    title: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    trainee_ids: Annotated[list[TraineeId], msgspec.Meta(max_length=20)] = []
    scheduled_for: StartTime | None = None
    # "auto" (the default): direct while two members talk unrecorded, routed from a third
    # member, an observer or a recording on (DESIGN.md §3); "direct": media never touches the
    # server (so no recording and no observers); "routed": always through the server.
    media_mode: Literal["auto", "direct", "routed"] = "auto"
    # Issue 11: supervisors may observe without the trainee seeing them (never the mentor).
    observers_hidden: bool = False


async def create_session(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    body = await read_body(request, CreateSession)
    if not body.title.strip():
        raise ApiError(422, "invalid", "title must not be blank")
    for trainee_id in body.trainee_ids:
        trainee = await svc.store.users.get(trainee_id)
        if trainee is None or trainee.role is not Role.TRAINEE or trainee.disabled:
            raise ApiError(422, "invalid", f"trainee_ids: {trainee_id} is not a trainee")
    session = await svc.store.sessions.create(
        title=body.title,
        mentor_id=principal.id,
        trainee_ids=body.trainee_ids,
        media_mode=body.media_mode,
        scheduled_for=body.scheduled_for,
        observers_hidden=body.observers_hidden,
    )
    await svc.store.audit.append("session.created", actor_id=principal.id, target=session.id)
    return json_response(await session_out(request, principal, session), status=201)


class AddTrainee(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    trainee_id: TraineeId


async def _trainee(request: Request, trainee_id: str) -> None:
    trainee = await services(request).store.users.get(trainee_id)
    if trainee is None or trainee.role is not Role.TRAINEE or trainee.disabled:
        raise ApiError(
            422, "invalid", "trainee_id: that is not a trainee account; pick one from the search"
        )


async def add_trainee(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    session = await session_for(request, principal, Action.TRAINEES_MANAGE)
    body = await read_body(request, AddTrainee)
    await _trainee(request, body.trainee_id)
    if await svc.store.sessions.add_trainee(session.id, body.trainee_id):
        await svc.store.audit.append(
            "trainee.listed",
            actor_id=principal.id,
            target=session.id,
            detail={"trainee": body.trainee_id},
        )
    changed = await svc.store.sessions.get(session.id)
    assert changed is not None
    return json_response(await session_out(request, principal, changed))


async def remove_trainee(request: Request, principal: Principal | None) -> Response:
    """Take a trainee account off the session, while no feedback names them: feedback, once
    started, ties the trainee to the session's record."""
    assert principal is not None
    svc = services(request)
    session = await session_for(request, principal, Action.TRAINEES_MANAGE)
    trainee_id = request.path_params["trainee_id"]
    if trainee_id not in session.trainee_ids:
        raise ApiError(404, "not-found", "that trainee is not listed in this session")
    if any(f.trainee_id == trainee_id for f in await svc.feedback.for_session(session.id)):
        raise ApiError(
            409,
            "has-feedback",
            "this trainee already has feedback in this session, so they stay listed; "
            "the feedback belongs to their record",
        )
    now = time.time()
    await svc.store.sessions.remove_trainee(session.id, trainee_id)
    # Links made for the account, and guests linked to it, no longer point into this session.
    for invite_id in await svc.store.invites.revoke_for_trainee(session.id, trainee_id, now=now):
        for login in await svc.store.login_sessions.revoke_invite(invite_id, now=now):
            await svc.rooms.revoke(login=login)
    await svc.store.login_sessions.unlink_account(session.id, trainee_id)
    await svc.store.audit.append(
        "trainee.unlisted",
        actor_id=principal.id,
        target=session.id,
        detail={"trainee": trainee_id},
    )
    changed = await svc.store.sessions.get(session.id)
    assert changed is not None
    return json_response(await session_out(request, principal, changed))


class ObserverVisibility(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    hidden: bool
    """True: supervisors observe without trainees and guests seeing them (the mentor always
    sees them); false (the default): everyone sees who observes."""


async def set_observer_visibility(request: Request, principal: Principal | None) -> Response:
    """Whether trainees and guests see the session's observers; a call in progress follows at
    once (an observer disappears from, or appears in, their room)."""
    assert principal is not None
    svc = services(request)
    session = await session_for(request, principal, Action.OBSERVERS_CONFIGURE)
    body = await read_body(request, ObserverVisibility)
    if body.hidden != session.observers_hidden:
        await svc.store.sessions.hide_observers(session.id, body.hidden)
        await svc.rooms.hide_observers(session.id, body.hidden)
        await svc.store.audit.append(
            "session.observers",
            actor_id=principal.id,
            target=session.id,
            detail={"hidden": "yes" if body.hidden else "no"},
        )
    changed = await svc.store.sessions.get(session.id)
    assert changed is not None
    return json_response(await session_out(request, principal, changed))


async def list_sessions(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    store = services(request).store.sessions
    if principal.is_guest:
        found = await store.get(str(principal.scope_session_id))
        sessions = [found] if found else []
    elif principal.role is Role.ADMIN:
        sessions = await store.everything()
    elif principal.role is Role.MENTOR:
        sessions = await store.for_mentor(principal.id)
    elif principal.role is Role.TRAINEE:
        sessions = await store.for_trainee(principal.id)
    else:
        sessions = await store.for_supervisor(principal.id)
    return json_response([await session_out(request, principal, s) for s in sessions])


async def get_session(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    session = await session_for(request, principal, Action.SESSION_VIEW)
    return json_response(await session_out(request, principal, session))


async def end_session(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    session = await session_for(request, principal, Action.SESSION_END)
    now = time.time()
    if await svc.store.sessions.end(session.id, now=now):
        await svc.store.login_sessions.revoke_scoped(session.id, now=now)
        await svc.rooms.end(session.id)
        await svc.notes.end(session)
        await svc.notes.compact(session.id)
        await svc.store.audit.append("session.ended", actor_id=principal.id, target=session.id)
    ended = await svc.store.sessions.get(session.id)
    assert ended is not None
    return json_response(await session_out(request, principal, ended))


endpoints = [
    Endpoint(
        "POST",
        "/api/sessions",
        "Create a session (mentors).",
        "sessions",
        create_session,
        access=Access(action=Action.SESSION_CREATE),
        body=CreateSession,
        response=SessionOut,
        status=201,
    ),
    Endpoint(
        "GET",
        "/api/sessions",
        "Sessions visible to me.",
        "sessions",
        list_sessions,
        response=list[SessionOut],
    ),
    Endpoint(
        "GET",
        "/api/sessions/{session_id}",
        "One session.",
        "sessions",
        get_session,
        response=SessionOut,
    ),
    Endpoint(
        "POST",
        "/api/sessions/{session_id}/end",
        "End the session: closes the room and every invite guest's access.",
        "sessions",
        end_session,
        response=SessionOut,
    ),
    Endpoint(
        "PUT",
        "/api/sessions/{session_id}/observers",
        "Whether trainees and guests see the session's observers (its mentor; an admin).",
        "sessions",
        set_observer_visibility,
        body=ObserverVisibility,
        response=SessionOut,
    ),
    Endpoint(
        "POST",
        "/api/sessions/{session_id}/trainees",
        "List a trainee account in the session (its mentor).",
        "sessions",
        add_trainee,
        body=AddTrainee,
        response=SessionOut,
    ),
    Endpoint(
        "DELETE",
        "/api/sessions/{session_id}/trainees/{trainee_id}",
        "Take a trainee account off the session, while no feedback names them (its mentor).",
        "sessions",
        remove_trainee,
        response=SessionOut,
    ),
]
