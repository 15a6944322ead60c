"""Request and response bodies shared by several route modules."""

from __future__ import annotations

from typing import Annotated

import msgspec
from starlette.requests import HTTPConnection

from server.access.policy import capabilities
from server.access.principal import Principal
from server.infra.roles import Role, User
from server.infra.storage import Session, SessionStatus
from server.services import services
from session_notes.instruments import FeedbackForm

__all__ = [
    "Answer",
    "Email",
    "FeedbackOut",
    "PersonOut",
    "SessionOut",
    "UserOut",
    "feedback_out",
    "session_out",
    "user_out",
]

Email = Annotated[
    str,
    msgspec.Meta(
        min_length=3,
        max_length=320,
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="An e-mail address (compared case-insensitively).",
    ),
]


class UserOut(msgspec.Struct, frozen=True):
    id: str
    email: str
    name: str
    role: Role
    disabled: bool


def user_out(user: User) -> UserOut:
    return UserOut(user.id, user.email, user.name, user.role, user.disabled)


Answer = int | float | str | bool | list[str] | None


class PersonOut(msgspec.Struct, frozen=True):
    id: str
    name: str


class SessionOut(msgspec.Struct, frozen=True):
    id: str
    title: str
    mentor_id: str
    mentor_name: str
    trainee_ids: tuple[str, ...]
    trainees: tuple[PersonOut, ...]
    status: SessionStatus
    media_mode: str
    observers_hidden: bool
    """Supervisors observe unseen by trainees and guests (never by the mentor)."""
    scheduled_for: float | None
    created_at: float
    started_at: float | None
    ended_at: float | None
    can: list[str]
    """What the caller may do to this session now (the policy's actions)."""


async def session_out(
    connection: HTTPConnection, principal: Principal, session: Session
) -> SessionOut:
    users = services(connection).store.users
    mentor = await users.get(session.mentor_id)
    trainees = []
    for trainee_id in session.trainee_ids:
        trainee = await users.get(trainee_id)
        trainees.append(PersonOut(trainee_id, trainee.name if trainee else ""))
    return SessionOut(
        id=session.id,
        title=session.title,
        mentor_id=session.mentor_id,
        mentor_name=mentor.name if mentor else "",
        trainee_ids=session.trainee_ids,
        trainees=tuple(trainees),
        status=session.status,
        media_mode=session.media_mode,
        observers_hidden=session.observers_hidden,
        scheduled_for=session.scheduled_for,
        created_at=session.created_at,
        started_at=session.started_at,
        ended_at=session.ended_at,
        can=capabilities(principal, session),
    )


class FeedbackOut(msgspec.Struct, frozen=True):
    id: str
    session_id: str
    instrument_id: str
    instrument_version: str
    trainee_id: str
    author_id: str
    author_name: str
    respondent: str
    status: str
    responses: dict[str, Answer]
    evidence: dict[str, list[str]]
    trainee_responses: dict[str, Answer]
    amends_id: str | None
    created_at: float
    updated_at: float
    submitted_at: float | None
    acknowledged_at: float | None
    ack_reply: str | None
    countersigned_at: float | None
    countersigned_by: str | None
    countersigned_by_name: str | None = None
    countersign_comment: str | None = None
    returned_at: float | None = None
    """A supervisor returned it to its mentor, who revises it as an amendment."""
    returned_by_name: str | None = None
    return_reason: str | None = None
    can: list[str] = []
    """What the caller may do to this form now (the policy's actions)."""
    revision: int = 0
    """Raised by every save of the draft; a save names a revision above it (409 stale if not)."""


def feedback_out(form: FeedbackForm, can: list[str]) -> FeedbackOut:
    # By field name, not position: the two shapes differ only in what the API leaves out.
    out: FeedbackOut = msgspec.convert(form, FeedbackOut, from_attributes=True)
    out = msgspec.structs.replace(out, can=can)
    return out
