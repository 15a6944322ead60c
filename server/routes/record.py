"""Marks on the session timeline, and the session's FHIR export."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from typing import Annotated, Any, Literal

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.access.policy import Action, capabilities, may
from server.access.principal import Principal
from server.http.endpoints import Endpoint
from server.http.errors import ApiError, json_response, read_body
from server.http.resources import form_facts, session_for, visible_forms
from server.http.schemas import FeedbackOut, SessionOut, feedback_out, session_out
from server.infra.audit_chain import AuditEvent
from server.infra.storage import ChatMessage, Session
from server.infra.storage.speaking import by_person
from server.services import Services, services
from session_notes.instruments import FormForExport, bundle
from signaling.messages import ChatAudience

__all__ = ["endpoints"]

Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
MAX_AT_MS = 24 * 60 * 60 * 1000


class NewMark(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    label: Annotated[str, msgspec.Meta(max_length=200)] = ""
    tags: Annotated[list[Tag], msgspec.Meta(max_length=10)] = []
    # An offset into one session: a day at most (an unbounded integer overflows the column).
    at_ms: Annotated[int, msgspec.Meta(ge=0, le=MAX_AT_MS)] | None = None


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
    session = await session_for(request, principal, Action.MARK_ADD)
    body = await read_body(request, NewMark)
    # The offset into the session; recordings map it onto their own timeline (DESIGN.md §3).
    started_at = session.started_at or time.time()
    at_ms = body.at_ms if body.at_ms is not None else round((time.time() - started_at) * 1000)
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
    svc = services(request)
    session = await session_for(request, principal, Action.MARKS_LIST)
    marks = await svc.store.marks.for_session(session.id)
    await svc.store.audit.append(
        "record.viewed", actor_id=principal.id, target=session.id, detail={"part": "marks"}
    )
    return json_response(
        [MarkOut(m.id, m.label, m.tags, m.at_ms, m.by_subject, m.created_at) for m in marks]
    )


class TimelineEvent(msgspec.Struct, frozen=True):
    at: float
    action: str
    who: str | None
    detail: dict[str, str]
    seq: int
    kind: Literal["event", "chat"] = "event"
    """``chat``: a message said in the room (``who`` is the sender's name at the time)."""
    text: str | None = None
    """A chat message's text."""
    at_ms: int | None = None
    """A chat message's offset into the call, in milliseconds."""


class TimelinePage(msgspec.Struct, frozen=True):
    events: list[TimelineEvent]
    """Oldest first."""
    next: int | None
    """Pass as ``before`` for the page of older events; ``None`` when this is the oldest."""


class Participant(msgspec.Struct, frozen=True):
    id: str
    name: str
    role: str
    joined_at: float
    left_at: float | None


class TalkMinute(msgspec.Struct, frozen=True):
    minute: int
    """Minutes since the session's start."""
    ms: int


class TalkTime(msgspec.Struct, frozen=True):
    """How long one person spoke in a routed session (from audio levels, never decoded)."""

    id: str
    name: str
    total_ms: int
    share: float
    """Of everyone's speech, 0-1."""
    minutes: list[TalkMinute]
    """Minutes in which they spoke, in order."""


class SessionRecord(msgspec.Struct, frozen=True):
    session: SessionOut
    participants: list[Participant]
    notes: str
    marks: list[MarkOut]
    feedback: list[FeedbackOut]
    timeline: list[TimelineEvent]
    """The newest page of the timeline, oldest first; older pages from ``…/timeline``."""
    timeline_next: int | None
    """``before`` for ``GET /api/sessions/{id}/timeline``; ``None`` when nothing is older."""
    talk_time: list[TalkTime] = []
    """Who spoke how much, the most talkative first (routed sessions; empty otherwise)."""


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
    "room.chat",
    "mark.",
    "feedback.",
    "notes.edited-after-end",
)
_PAGE = 200
_MAX_PAGE = 1000


async def _people(svc: Services, events: Iterable[AuditEvent]) -> dict[str, str]:
    names: dict[str, str] = {}
    for event in events:
        if event.actor_id and event.actor_id not in names:
            user = await svc.store.users.get(event.actor_id)
            guest = None if user else await svc.store.login_sessions.guest_name(event.actor_id)
            names[event.actor_id] = user.name if user else guest or "Guest"
    return names


def _participants(events: list[AuditEvent], names: dict[str, str]) -> list[Participant]:
    """Who was in the room and when, from the room's own audit events (first join, last
    leave; a member who resumed is one participant). A guest who knocked from the lobby was
    there from the moment a mentor admitted them; one turned away never was."""
    seen: dict[str, Participant] = {}
    knocking: dict[str, tuple[str, str]] = {}  # peer id in the lobby → (subject, role)

    def arrive(who: str, role: str, at: float) -> None:
        known = seen.get(who)
        joined = known.joined_at if known else at
        seen[who] = Participant(
            who, names.get(who, ""), role or (known.role if known else ""), joined, None
        )

    for event in events:
        who = event.actor_id
        if event.action == "room.admit":
            admitted = knocking.pop(event.detail.get("peer", ""), None)
            if admitted is not None:
                arrive(*admitted, event.at)
            continue
        if who is None:
            continue
        if event.action == "room.join":
            role = event.detail.get("role", "")
            if event.detail.get("admission") == "lobby":
                knocking[event.detail.get("peer", "")] = (who, role)
                continue
            arrive(who, role, event.at)
        elif event.action == "room.leave" and who in seen:
            p = seen[who]
            seen[who] = Participant(p.id, p.name, p.role, p.joined_at, event.at)
    return list(seen.values())


async def session_record(request: Request, principal: Principal | None) -> Response:
    """The session's record as this principal may see it (DESIGN.md §2; recordings and the
    timeline of joins arrive with routed media)."""
    assert principal is not None
    svc = services(request)
    session = await session_for(request, principal, Action.RECORD_VIEW)
    forms = await visible_forms(svc, principal, session)
    marks = await svc.store.marks.for_session(session.id)
    if not may(principal, Action.MARKS_LIST, session):
        # Marks are the mentor's working notes; a trainee sees those cited in their feedback.
        cited = {
            m for f in forms if f.status == "submitted" for ms in f.evidence.values() for m in ms
        }
        marks = [m for m in marks if m.id in cited]
    # Participants from every join and leave (queried by action, not from a page).
    presence = await svc.store.audit.about(
        session.id, actions=("room.join", "room.admit", "room.leave")
    )
    page = await _timeline_page(svc, session.id, before=None, limit=_PAGE)
    names = await _people(svc, [*presence, *page])
    await svc.store.audit.append("record.viewed", actor_id=principal.id, target=session.id)
    chats = await _chats(svc, principal, session, page)
    hidden = await _hidden_from(svc, principal, session, presence)
    timeline = _timeline(page, names, chats, _PAGE, hidden)
    participants = _participants([e for e in presence if e.actor_id not in hidden], names)
    record = SessionRecord(
        session=await session_out(request, principal, session),
        participants=participants,
        timeline=timeline.events,
        timeline_next=timeline.next,
        notes=await svc.notes.text(session.id),
        marks=[MarkOut(m.id, m.label, m.tags, m.at_ms, m.by_subject, m.created_at) for m in marks],
        feedback=[feedback_out(f, capabilities(principal, form_facts(f, session))) for f in forms],
        talk_time=await _talk_time(svc, session.id, names, participants),
    )
    return json_response(record, headers={"Cache-Control": "no-store"})


async def _talk_time(
    svc: Services, session_id: str, names: dict[str, str], participants: list[Participant]
) -> list[TalkTime]:
    people = by_person(await svc.speaking.for_session(session_id))
    if not people:
        return []  # not routed, or nobody was heard: no balance to show
    for person in people:
        if person.subject not in names:
            user = await svc.store.users.get(person.subject)
            guest = None if user else await svc.store.login_sessions.guest_name(person.subject)
            names[person.subject] = user.name if user else guest or "Guest"
    return [
        TalkTime(
            p.subject,
            names[p.subject],
            p.total_ms,
            round(p.share, 4),
            [TalkMinute(minute, ms) for minute, ms in p.minutes],
        )
        for p in people
    ] + [  # whoever was there and never spoke
        TalkTime(p.id, p.name, 0, 0.0, [])
        for p in participants
        if p.id not in {person.subject for person in people}
    ]


async def _timeline_page(
    svc: Services, session_id: str, *, before: int | None, limit: int
) -> list[AuditEvent]:
    # One more than asked: whether an older page exists, without counting.
    return await svc.store.audit.about(
        session_id, prefixes=_TIMELINE, before=before, limit=limit + 1
    )


async def _chats(
    svc: Services, principal: Principal, session: Session, events: list[AuditEvent]
) -> dict[str, ChatMessage]:
    """The chat messages a page of the timeline names (the log keeps who and when; the text
    lives in the chat table) that this reader may read: a line left out drops its entry."""
    ids = {e.detail.get("chat", "") for e in events if e.action == "room.chat"}
    return await svc.store.chat.by_ids(
        session.id, ids - {""}, audiences=_chat_audiences(principal, session)
    )


async def _hidden_from(
    svc: Services, principal: Principal, session: Session, joins: list[AuditEvent] | None = None
) -> frozenset[str]:
    """Who this reader is not told was there (issue 11): observers who joined while the session
    hid them from trainees and guests — their joins, leaves and consents; their chat goes by
    each line's audience. The mentor's side sees everyone. ``joins``: the session's room.join
    events if already read (read here only for a reader who needs them)."""
    if may(principal, Action.OBSERVERS_SEE, session):
        return frozenset()
    if joins is None:
        joins = await svc.store.audit.about(session.id, actions=("room.join",))
    return frozenset(
        e.actor_id
        for e in joins
        if e.action == "room.join" and e.actor_id and e.detail.get("hidden") == "true"
    )


def _chat_audiences(principal: Principal, session: Session) -> tuple[ChatAudience, ...]:
    """Issue 11: lines said by an observer hidden from trainees and guests are for the mentor's
    side of the record (the mentor, assigned supervisors, admins: the policy's ``OBSERVERS_SEE``);
    a trainee or guest never gets them, whatever the setting is now."""
    if may(principal, Action.OBSERVERS_SEE, session):
        return ("everyone", "mentors")
    return ("everyone",)


def _entry(
    event: AuditEvent,
    names: dict[str, str],
    chats: dict[str, ChatMessage],
    hidden: frozenset[str],
) -> TimelineEvent | None:
    if event.action != "room.chat":
        if event.actor_id in hidden:
            return None
        who = names.get(event.actor_id or "")
        return TimelineEvent(event.at, event.action, who, dict(event.detail), event.seq)
    chat = chats.get(event.detail.get("chat", ""))
    if chat is None:
        return None  # deleted with the session's chat
    detail = {"chat": chat.id}
    if chat.audience != "everyone":
        # Only a reader who may read a hidden observer's line gets one: the page says so.
        detail["audience"] = chat.audience
    return TimelineEvent(
        chat.at,
        event.action,
        chat.author_name,
        detail,
        event.seq,
        kind="chat",
        text=chat.text,
        at_ms=chat.at_ms,
    )


def _timeline(
    events: list[AuditEvent],
    names: dict[str, str],
    chats: dict[str, ChatMessage],
    limit: int,
    hidden: frozenset[str],
) -> TimelinePage:
    more = len(events) > limit
    shown = events[1:] if more else events
    entries = (_entry(e, names, chats, hidden) for e in shown)
    return TimelinePage(
        [entry for entry in entries if entry is not None],
        shown[0].seq if more else None,
    )


def _whole_number(request: Request, name: str, default: int | None, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None and default is not None:
        return default
    if raw is None or not raw.isdigit() or not low <= int(raw) <= high:
        raise ApiError(422, "invalid", f"{name} must be a whole number from {low} to {high}")
    return int(raw)


async def session_timeline(request: Request, principal: Principal | None) -> Response:
    """A page of the session's timeline, older than ``before`` (a seq from ``timeline_next``
    or a page's ``next``), oldest first."""
    assert principal is not None
    svc = services(request)
    session = await session_for(request, principal, Action.RECORD_VIEW)
    limit = _whole_number(request, "limit", _PAGE, 1, _MAX_PAGE)
    before = (
        _whole_number(request, "before", None, 1, 2**63 - 1)
        if "before" in request.query_params
        else None
    )
    events = await _timeline_page(svc, session.id, before=before, limit=limit)
    names = await _people(svc, events)
    chats = await _chats(svc, principal, session, events)
    hidden = await _hidden_from(svc, principal, session)
    await svc.store.audit.append(
        "record.viewed", actor_id=principal.id, target=session.id, detail={"part": "timeline"}
    )
    page = _timeline(events, names, chats, limit, hidden)
    return json_response(page, headers={"Cache-Control": "no-store"})


async def fhir_record(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    session = await session_for(request, principal, Action.RECORD_VIEW)
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
                amends_id=form.amends_id,
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
        response=SessionRecord,
    ),
    Endpoint(
        "GET",
        "/api/sessions/{session_id}/timeline",
        "Older pages of the record's timeline (?before=<seq>&limit=<n>, oldest first).",
        "record",
        session_timeline,
        response=TimelinePage,
    ),
    Endpoint(
        "POST",
        "/api/sessions/{session_id}/marks",
        "Mark a moment of the live session (the mentor).",
        "record",
        add_mark,
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
        response=list[MarkOut],
    ),
    Endpoint(
        "GET",
        "/api/sessions/{session_id}/record.fhir.json",
        "Submitted feedback as a FHIR R4 Bundle of QuestionnaireResponses with their "
        "Questionnaires.",
        "record",
        fhir_record,
        response=dict[str, Any],
        response_media_type="application/fhir+json",
    ),
]
