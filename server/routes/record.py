"""Marks on the session timeline, and the session's FHIR export."""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.access.principal import Principal
from server.http.endpoints import Access, Endpoint
from server.http.errors import ApiError, json_response, read_body
from server.http.resources import visible_forms, visible_session
from server.http.schemas import FeedbackOut, SessionOut, feedback_out, session_out
from server.infra.audit_chain import AuditEvent
from server.infra.roles import Role
from server.infra.storage import SessionStatus
from server.services import Services, services
from session_notes.instruments import FormForExport, bundle

__all__ = ["endpoints"]

Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]


class NewMark(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    label: Annotated[str, msgspec.Meta(max_length=200)] = ""
    tags: Annotated[list[Tag], msgspec.Meta(max_length=10)] = []
    at_ms: Annotated[int, msgspec.Meta(ge=0)] | None = None


class MarkOut(msgspec.Struct, frozen=True):
    id: str
    label: str
    tags: tuple[str, ...]
    at_ms: int
    by: str
    created_at: float


async def add_mark(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    session = await visible_session(request, principal)
    if session.mentor_id != principal.id:
        raise ApiError(403, "forbidden", "only the session's mentor marks moments")
    if session.status is not SessionStatus.LIVE or session.started_at is None:
        raise ApiError(409, "not-live", "marks are taken while the session is live")
    body = await read_body(request, NewMark)
    # The offset into the session; recordings map it onto their own timeline (DESIGN.md §3).
    at_ms = (
        body.at_ms if body.at_ms is not None else round((time.time() - session.started_at) * 1000)
    )
    mark = await svc.store.marks.add(
        mark_id=uuid.uuid4().hex[:12],
        session_id=session.id,
        label=body.label.strip(),
        tags=body.tags,
        at_ms=at_ms,
        by_subject=principal.id,
    )
    await svc.store.audit.append(
        "mark.added", actor_id=principal.id, target=session.id, detail={"mark": mark.id}
    )
    return json_response(
        MarkOut(mark.id, mark.label, mark.tags, mark.at_ms, mark.by_subject, mark.created_at),
        status=201,
    )


async def list_marks(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    session = await visible_session(request, principal)
    if principal.role not in (Role.MENTOR, Role.SUPERVISOR, Role.ADMIN) or principal.is_guest:
        raise ApiError(403, "forbidden", "marks are the mentor's; you see those cited as evidence")
    marks = await services(request).store.marks.for_session(session.id)
    return json_response(
        [MarkOut(m.id, m.label, m.tags, m.at_ms, m.by_subject, m.created_at) for m in marks]
    )


class TimelineEvent(msgspec.Struct, frozen=True):
    at: float
    action: str
    who: str | None
    detail: dict[str, str]


class Participant(msgspec.Struct, frozen=True):
    id: str
    name: str
    role: str
    joined_at: float
    left_at: float | None


class SessionRecord(msgspec.Struct, frozen=True):
    session: SessionOut
    participants: list[Participant]
    notes: str
    marks: list[MarkOut]
    feedback: list[FeedbackOut]
    timeline: list[TimelineEvent]


# What the timeline shows: the room's life, not every request (views and exports stay in the
# audit log for administrators).
_TIMELINE = (
    "session.",
    "room.join",
    "room.admit",
    "room.deny",
    "room.leave",
    "room.recording",
    "room.consent",
    "mark.",
    "feedback.",
    "notes.edited-after-end",
)


async def _people(svc: Services, events: list[AuditEvent]) -> dict[str, str]:
    names: dict[str, str] = {}
    for event in events:
        if event.actor_id and event.actor_id not in names:
            user = await svc.store.users.get(event.actor_id)
            guest = None if user else await svc.store.login_sessions.guest_name(event.actor_id)
            names[event.actor_id] = user.name if user else guest or "Guest"
    return names


def _participants(events: list[AuditEvent], names: dict[str, str]) -> list[Participant]:
    """Who was in the room and when, from the room's own audit events (first join, last
    leave; a member who resumed is one participant)."""
    seen: dict[str, Participant] = {}
    for event in events:
        who = event.actor_id
        if who is None:
            continue
        if event.action == "room.join":
            known = seen.get(who)
            joined = known.joined_at if known else event.at
            role = event.detail.get("role", known.role if known else "")
            seen[who] = Participant(who, names.get(who, ""), role, joined, None)
        elif event.action == "room.leave" and who in seen:
            p = seen[who]
            seen[who] = Participant(p.id, p.name, p.role, p.joined_at, event.at)
    return list(seen.values())


async def session_record(request: Request, principal: Principal | None) -> Response:
    """The session's record as this principal may see it (DESIGN.md §2; recordings and the
    timeline of joins arrive with routed media)."""
    assert principal is not None
    svc = services(request)
    session = await visible_session(request, principal)
    forms = await visible_forms(svc, principal, session)
    marks = await svc.store.marks.for_session(session.id)
    if principal.role not in (Role.MENTOR, Role.SUPERVISOR, Role.ADMIN) or principal.is_guest:
        # Marks are the mentor's working notes; a trainee sees those cited in their feedback.
        cited = {
            m for f in forms if f.status == "submitted" for ms in f.evidence.values() for m in ms
        }
        marks = [m for m in marks if m.id in cited]
    events = await svc.store.audit.about(session.id)
    names = await _people(svc, events)
    await svc.store.audit.append("record.viewed", actor_id=principal.id, target=session.id)
    record = SessionRecord(
        session=await session_out(request, session),
        participants=_participants(events, names),
        timeline=[
            TimelineEvent(e.at, e.action, names.get(e.actor_id or "", None), dict(e.detail))
            for e in events
            if e.action.startswith(_TIMELINE)
        ],
        notes=await svc.notes.text(session.id),
        marks=[MarkOut(m.id, m.label, m.tags, m.at_ms, m.by_subject, m.created_at) for m in marks],
        feedback=[feedback_out(f) for f in forms],
    )
    return json_response(record, headers={"Cache-Control": "no-store"})


async def fhir_record(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    session = await visible_session(request, principal)
    forms = [f for f in await visible_forms(svc, principal, session) if f.status == "submitted"]
    marks = {m.id: m for m in await svc.store.marks.for_session(session.id)}
    exports = []
    for form in forms:
        template = await svc.instruments.get(form.instrument_id, form.instrument_version)
        trainee = await svc.store.users.get(form.trainee_id)
        if template is None:
            continue
        evidence = {
            item: [
                f"{m} at {marks[m].at_ms / 1000:.0f} s: {marks[m].label}" if m in marks else m
                for m in cited
            ]
            for item, cited in form.evidence.items()
        }
        exports.append(
            FormForExport(
                id=form.id,
                template=template,
                status=form.status,
                responses={**form.responses, **form.trainee_responses},
                trainee_id=form.trainee_id,
                trainee_name=trainee.name if trainee else "",
                author_id=form.author_id,
                author_name=form.author_name,
                authored_at=form.submitted_at or form.updated_at,
                evidence=evidence,
            )
        )
    await svc.store.audit.append(
        "record.exported", actor_id=principal.id, target=session.id, detail={"format": "fhir"}
    )
    document = bundle(svc.config.public_url, f"session-{session.id}", exports, time.time())
    return Response(
        msgspec.json.encode(document),
        media_type="application/fhir+json",
        headers={"Cache-Control": "no-store"},
    )


endpoints = [
    Endpoint(
        "GET",
        "/api/sessions/{session_id}/record",
        "The session's record: notes, marks and feedback I may see.",
        "record",
        session_record,
        access=Access(guests=True),
        response=SessionRecord,
    ),
    Endpoint(
        "POST",
        "/api/sessions/{session_id}/marks",
        "Mark a moment of the live session (the mentor).",
        "record",
        add_mark,
        access=Access(roles=(Role.MENTOR,)),
        body=NewMark,
        response=MarkOut,
        status=201,
    ),
    Endpoint(
        "GET",
        "/api/sessions/{session_id}/marks",
        "The session's marks.",
        "record",
        list_marks,
        access=Access(guests=True),
        response=list[MarkOut],
    ),
    Endpoint(
        "GET",
        "/api/sessions/{session_id}/record.fhir.json",
        "Submitted feedback as a FHIR R4 Bundle of QuestionnaireResponses with their "
        "Questionnaires.",
        "record",
        fhir_record,
        access=Access(guests=True),
        response=dict[str, Any],
        response_media_type="application/fhir+json",
    ),
]
