"""The resource a request names, loaded and checked: 404 when the principal may not see it,
so ids of other people's sessions and forms are not confirmed."""

from __future__ import annotations

from starlette.requests import HTTPConnection

from server.access.policy import can_view
from server.access.principal import Principal
from server.http.errors import ApiError
from server.infra.roles import Role
from server.infra.storage import Session
from server.services import Services, services
from session_notes.instruments import FeedbackForm

__all__ = ["followed_by", "may_see_form", "owned_session", "visible_forms", "visible_session"]


async def followed_by(svc: Services, principal: Principal) -> set[str]:
    """The trainees a supervisor is assigned to (empty for everyone else)."""
    if principal.role is not Role.SUPERVISOR or principal.is_guest:
        return set()
    return {t.id for t in await svc.store.users.trainees_of(principal.id)}


async def visible_session(connection: HTTPConnection, principal: Principal) -> Session:
    """The path's session if this principal may see it; 404 either way otherwise, so ids of
    other people's sessions are not confirmed."""
    session_id = connection.path_params["session_id"]
    session = await services(connection).store.sessions.get(session_id)
    if session is None or not can_view(
        principal, session, await followed_by(services(connection), principal)
    ):
        raise ApiError(404, "not-found", "no such session")
    return session


async def owned_session(connection: HTTPConnection, principal: Principal) -> Session:
    session = await visible_session(connection, principal)
    if session.mentor_id != principal.id:
        raise ApiError(403, "forbidden", "only the session's mentor may do this")
    return session


def may_see_form(
    principal: Principal, session: Session, form: FeedbackForm, followed: set[str]
) -> bool:
    if principal.id == form.author_id or principal.role is Role.ADMIN:
        return True
    if principal.role is Role.MENTOR and session.mentor_id == principal.id:
        return True
    if form.status != "submitted":
        return False  # drafts are their author's (and the session mentor's) alone
    if principal.id == form.trainee_id:
        return True
    return principal.role is Role.SUPERVISOR and form.trainee_id in followed


async def visible_forms(
    svc: Services, principal: Principal, session: Session
) -> list[FeedbackForm]:
    followed = await followed_by(svc, principal)
    return [
        f
        for f in await svc.feedback.for_session(session.id)
        if may_see_form(principal, session, f, followed)
    ]
