"""The resource a request names, loaded with the facts the policy needs, and the policy asked.

Routes and sockets call these and never judge access themselves (DESIGN.md §1).
"""

from __future__ import annotations

from starlette.requests import HTTPConnection

from server.access.policy import Action, Decision, FormFacts, TraineeFacts, may
from server.access.principal import Principal
from server.http.errors import ApiError
from server.infra.roles import Role, User
from server.infra.storage import Recording, Session
from server.services import Services, services
from session_notes.instruments import FeedbackForm

__all__ = [
    "form_facts",
    "form_for",
    "recording_for",
    "require",
    "session_for",
    "trainee_for",
    "visible_forms",
]


def require(decision: Decision) -> None:
    """Answer a refusal with its status and reason."""
    if not decision:
        raise ApiError(decision.status, decision.error, decision.reason)


async def session_for(connection: HTTPConnection, principal: Principal, action: Action) -> Session:
    """The path's session, if the policy lets ``principal`` do ``action`` to it."""
    session_id = connection.path_params["session_id"]
    session = await services(connection).store.sessions.get(session_id)
    if session is None:
        raise ApiError(404, "not-found", "no such session")
    require(may(principal, action, session))
    return session


async def recording_for(
    connection: HTTPConnection, principal: Principal, action: Action
) -> tuple[Recording, Session]:
    """The path's recording and its session, if the policy lets ``principal`` do ``action`` to
    the session (a recording is part of its session's record)."""
    svc = services(connection)
    recording = await svc.store.recordings.get(connection.path_params["recording_id"])
    session = None if recording is None else await svc.store.sessions.get(recording.session_id)
    if recording is None or session is None:
        raise ApiError(404, "not-found", "no such recording")
    decision = may(principal, action, session)
    if not decision and decision.status == 404:
        raise ApiError(404, "not-found", "no such recording")
    require(decision)
    return recording, session


def form_facts(form: FeedbackForm, session: Session) -> FormFacts:
    return FormFacts(
        session,
        form.author_id,
        form.trainee_id,
        form.status,
        form.respondent,
        countersigned=form.countersigned_at is not None,
        returned=form.returned_at is not None,
    )


async def form_for(
    connection: HTTPConnection, principal: Principal, action: Action
) -> tuple[FeedbackForm, Session]:
    """The path's feedback form and its session, if the policy lets ``principal`` do
    ``action`` to it."""
    svc = services(connection)
    form = await svc.feedback.get(connection.path_params["feedback_id"])
    session = None if form is None else await svc.store.sessions.get(form.session_id)
    if form is None or session is None:
        raise ApiError(404, "not-found", "no such feedback")
    require(may(principal, action, form_facts(form, session)))
    return form, session


async def visible_forms(
    svc: Services, principal: Principal, session: Session
) -> list[FeedbackForm]:
    return [
        f
        for f in await svc.feedback.for_session(session.id)
        if may(principal, Action.FORM_VIEW, form_facts(f, session))
    ]


async def trainee_for(
    connection: HTTPConnection, principal: Principal, action: Action
) -> tuple[User, list[Session]]:
    """The path's trainee and the sessions that list them, if the policy lets ``principal`` do
    ``action`` (a guessed id, or a trainee not theirs to follow, is 404)."""
    svc = services(connection)
    trainee_id = connection.path_params["trainee_id"]
    user = await svc.store.users.get(trainee_id) if len(trainee_id) <= 64 else None
    exists = user is not None and user.role is Role.TRAINEE
    sessions = await svc.store.sessions.for_trainee(trainee_id) if exists else []
    mentored = any(s.mentor_id == principal.id for s in sessions)
    require(may(principal, action, TraineeFacts(trainee_id, exists, mentored)))
    assert user is not None  # the policy refuses a trainee that does not exist
    return user, sessions
