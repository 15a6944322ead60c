"""A trainee's progress across sessions (JSON and CSV), and the review home: the trainees I
follow and the forms awaiting my countersignature (issue 10).

Who sees a trainee is the policy's (``Action.PROGRESS_VIEW``); whose forms count is too
(``progress_author``: a mentor sees only what they wrote). Every view, export and refusal is
audited with the trainee as target, so a trainee's record shows who looked.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Mapping, Sequence
from typing import Literal

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.access.policy import Action, TraineeFacts, may, progress_author
from server.access.principal import Principal
from server.http.endpoints import Access, Endpoint
from server.http.errors import ApiError, json_response
from server.http.resources import form_facts, trainee_for
from server.http.schemas import PersonOut
from server.infra.roles import Role, User
from server.infra.storage import Session
from server.services import Services, services
from session_notes.coaching import Coaching, HeldSession, coaching
from session_notes.instruments import FeedbackForm
from session_notes.progress import (
    RELIABLE_AFTER,
    Comment,
    Facet,
    Filters,
    InstrumentProgress,
    MarkFacts,
    SessionFacts,
    effective_forms,
    progress,
    templates_by_version,
)
from session_notes.progress_csv import csv_text, progress_rows

__all__ = ["endpoints"]

_DAY = 86_400.0
LATEST = 50
"""Each instrument's newest this many assessments have their points in the response, unless
``?latest=`` asks otherwise; the date filters reach older ones (the CSV has them all)."""
_MAX_LATEST = 1000


class ProgressOut(msgspec.Struct, frozen=True):
    trainee: PersonOut
    scope: Literal["all", "mine"]
    """``mine``: a mentor sees only the forms they wrote."""
    reliable_after: int
    """About this many assessments before a judgement is reliable."""
    sessions: int
    assessments: int
    instruments: tuple[InstrumentProgress, ...]
    comments: tuple[Comment, ...]
    instrument_facets: tuple[Facet, ...]
    mentor_facets: tuple[Facet, ...]
    coaching: Coaching
    """How feedback followed these sessions (the mentor and date filters apply)."""
    can: list[str]
    """What else the caller may do with this trainee: ``progress.viewers`` (see who looked)."""


def _date(request: Request, name: str) -> float | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        day = dt.date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        day = None
    if day is None:
        raise ApiError(422, "invalid", f"{name} must be a date written like 2026-03-01")
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp()


def _id(request: Request, name: str) -> str | None:
    raw = request.query_params.get(name) or None
    if raw is not None and (len(raw) > 64 or not raw.isprintable()):
        raise ApiError(422, "invalid", f"{name} must be an id of at most 64 characters")
    return raw


def _latest(request: Request) -> int:
    raw = request.query_params.get("latest")
    if raw is None or raw == "":
        return LATEST
    if not raw.isdigit() or not 1 <= int(raw) <= _MAX_LATEST:
        raise ApiError(422, "invalid", f"latest must be a whole number from 1 to {_MAX_LATEST}")
    return int(raw)


def _filters(request: Request) -> Filters:
    since, until = _date(request, "from"), _date(request, "to")
    if since is not None and until is not None and since > until:
        raise ApiError(422, "invalid", "from is after to: swap the two dates")
    return Filters(
        instrument_id=_id(request, "instrument"),
        since=since,
        until=None if until is None else until + _DAY,  # "to" is the whole of that day
        mentor_id=_id(request, "mentor"),
    )


def _session_facts(sessions: Sequence[Session]) -> dict[str, SessionFacts]:
    return {
        s.id: SessionFacts(s.id, s.title, s.started_at or s.scheduled_for or s.created_at)
        for s in sessions
    }


async def _counted(
    svc: Services, principal: Principal, trainee_id: str
) -> tuple[list[FeedbackForm], dict[str, MarkFacts]]:
    author = progress_author(principal)
    forms = [
        f
        for f in await svc.feedback.for_trainee(trainee_id)
        if f.status == "submitted" and (author is None or f.author_id == author)
    ]
    cited_in = sorted({f.session_id for f in forms if f.evidence})
    marks = {
        m.id: MarkFacts(m.id, m.session_id, m.at_ms, m.label)
        for m in await svc.store.marks.for_sessions(cited_in)
    }
    return forms, marks


def _held(principal: Principal, sessions: Sequence[Session], filters: Filters) -> list[Session]:
    """The sessions the coaching figures count: held, the caller's own for a mentor, and in the
    mentor and date filters."""
    author = progress_author(principal) or filters.mentor_id
    return [
        s
        for s in sessions
        if s.started_at is not None
        and (author is None or s.mentor_id == author)
        and (filters.since is None or s.started_at >= filters.since)
        and (filters.until is None or s.started_at < filters.until)
    ]


def _coaching(
    held: Sequence[Session], marks: Mapping[str, int], forms: Sequence[FeedbackForm]
) -> Coaching:
    return coaching(
        [
            HeldSession(
                s.id, s.mentor_id, s.trainee_ids, s.started_at, s.ended_at, marks.get(s.id, 0)
            )
            for s in held
            if s.started_at is not None
        ],
        forms,
    )


def _can(principal: Principal, trainee: User, sessions: Sequence[Session]) -> list[str]:
    mentored = any(s.mentor_id == principal.id for s in sessions)
    facts = TraineeFacts(trainee.id, exists=True, mentored=mentored)
    return [a.value for a in (Action.PROGRESS_VIEWERS,) if may(principal, a, facts)]


async def _asked(
    request: Request, principal: Principal, what: str
) -> tuple[User, list[Session], Filters, int]:
    """The trainee, their sessions, the filters and ``latest``, with the attempt audited when
    it is refused (a guessed id, a trainee who is not the caller's to follow, a malformed
    filter)."""
    svc = services(request)
    try:
        trainee, sessions = await trainee_for(request, principal, Action.PROGRESS_VIEW)
        return trainee, sessions, _filters(request), _latest(request)
    except ApiError as refused:
        await svc.store.audit.append(
            "progress.refused",
            actor_id=principal.id,
            target=request.path_params["trainee_id"][:64],
            detail={"part": what, "status": str(refused.status)},
        )
        raise


async def _dropped(task: asyncio.Task[object]) -> None:
    """Cancel ``task`` and wait for it to end; what it found, or how it failed, is moot."""
    task.cancel()
    await asyncio.wait([task])
    if not task.cancelled():
        task.exception()  # retrieved, so asyncio does not log it as lost


async def trainee_progress(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    # The trainee's forms (most of the wait) are read while access is decided; when it is
    # refused, the read is cancelled and nothing it found is used.
    reading = asyncio.create_task(_counted(svc, principal, request.path_params["trainee_id"]))
    try:
        trainee, sessions, filters, latest = await _asked(request, principal, "progress")
        held = _held(principal, sessions, filters)
        # The other reads (and the audit write, which waits for its fsync) do not depend on
        # each other either: the request waits for the slowest rather than for their sum.
        async with asyncio.TaskGroup() as group:
            versions = group.create_task(svc.instruments.versions())
            mark_counts = group.create_task(svc.store.marks.counts([s.id for s in held]))
            group.create_task(
                svc.store.audit.append(
                    "progress.viewed",
                    actor_id=principal.id,
                    target=trainee.id,
                    detail={"format": "json"},
                )
            )
        forms, marks = await reading
    except BaseException:
        await _dropped(reading)
        raise
    found = progress(
        forms,
        templates=templates_by_version(versions.result()),
        sessions=_session_facts(sessions),
        marks=marks,
        filters=filters,
        latest=latest,
    )
    out = ProgressOut(
        trainee=PersonOut(trainee.id, trainee.name),
        scope="all" if progress_author(principal) is None else "mine",
        reliable_after=RELIABLE_AFTER,
        sessions=found.sessions,
        assessments=found.assessments,
        instruments=found.instruments,
        comments=found.comments,
        instrument_facets=found.instrument_facets,
        mentor_facets=found.mentor_facets,
        coaching=_coaching(held, mark_counts.result(), forms),
        can=_can(principal, trainee, sessions),
    )
    return json_response(out, headers={"Cache-Control": "no-store"})


async def trainee_progress_csv(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    trainee, sessions, filters, _ = await _asked(request, principal, "progress.csv")
    forms, marks = await _counted(svc, principal, trainee.id)
    templates = templates_by_version(await svc.instruments.versions())
    rows = progress_rows(
        forms, templates=templates, sessions=_session_facts(sessions), marks=marks, filters=filters
    )
    await svc.store.audit.append(
        "progress.exported", actor_id=principal.id, target=trainee.id, detail={"format": "csv"}
    )
    stamp = time.strftime("%Y-%m-%d", time.gmtime())
    return Response(
        csv_text(rows).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="progress-{trainee.id}-{stamp}.csv"',
        },
    )


# --- the review home ---------------------------------------------------------------------------


class TraineeSummary(msgspec.Struct, frozen=True):
    id: str
    name: str
    sessions: int
    """Sessions to date that the caller may see (started or ended)."""
    last_activity: float | None
    awaiting_me: int
    """Forms about this trainee awaiting the caller's countersignature."""


class QueueItem(msgspec.Struct, frozen=True):
    form_id: str
    session_id: str
    session_title: str
    session_date: float
    trainee: PersonOut
    instrument_id: str
    instrument_version: str
    author_name: str
    submitted_at: float | None
    acknowledged_at: float | None
    amends_id: str | None


class ReviewOut(msgspec.Struct, frozen=True):
    trainees: list[TraineeSummary]
    queue: list[QueueItem]
    """Oldest submission first: the order to work through."""


async def _followed(svc: Services, principal: Principal) -> list[User]:
    """The trainees whose page the caller may open: assigned (supervisor), taught (mentor),
    themselves (trainee), everyone (admin)."""
    if principal.role is Role.SUPERVISOR:
        return await svc.store.users.trainees_of(principal.id)
    if principal.role is Role.TRAINEE:
        me = await svc.store.users.get(principal.id)
        return [me] if me else []
    if principal.role is Role.ADMIN:
        return await svc.store.users.all(Role.TRAINEE)
    taught = {t for s in await svc.store.sessions.for_mentor(principal.id) for t in s.trainee_ids}
    found = [await svc.store.users.get(t) for t in sorted(taught)]
    return [u for u in found if u is not None and u.role is Role.TRAINEE]


async def review_home(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    trainees: list[TraineeSummary] = []
    queue: list[QueueItem] = []
    for trainee in await _followed(svc, principal):
        sessions = {
            s.id: s
            for s in await svc.store.sessions.for_trainee(trainee.id)
            if may(principal, Action.SESSION_VIEW, s)
        }
        forms = [f for f in await svc.feedback.for_trainee(trainee.id) if f.session_id in sessions]
        waiting = [
            f
            for f in effective_forms(forms)
            if may(principal, Action.FORM_COUNTERSIGN, form_facts(f, sessions[f.session_id]))
        ]
        held = [s for s in sessions.values() if s.started_at is not None]
        moments = [
            *(s.ended_at or s.started_at or 0.0 for s in held),
            *(f.updated_at for f in forms if f.status == "submitted"),
        ]
        trainees.append(
            TraineeSummary(
                trainee.id, trainee.name, len(held), max(moments, default=None), len(waiting)
            )
        )
        for form in waiting:
            session = sessions[form.session_id]
            queue.append(
                QueueItem(
                    form_id=form.id,
                    session_id=session.id,
                    session_title=session.title,
                    session_date=session.started_at or session.created_at,
                    trainee=PersonOut(trainee.id, trainee.name),
                    instrument_id=form.instrument_id,
                    instrument_version=form.instrument_version,
                    author_name=form.author_name,
                    submitted_at=form.submitted_at,
                    acknowledged_at=form.acknowledged_at,
                    amends_id=form.amends_id,
                )
            )
    trainees.sort(key=lambda t: (-(t.last_activity or 0.0), t.name.lower()))
    queue.sort(key=lambda q: q.submitted_at or 0.0)
    return json_response(ReviewOut(trainees, queue), headers={"Cache-Control": "no-store"})


endpoints = [
    Endpoint(
        "GET",
        "/api/review",
        "My review home: the trainees I follow and the forms awaiting my countersignature.",
        "review",
        review_home,
        access=Access(action=Action.REVIEW_READ),
        response=ReviewOut,
    ),
    Endpoint(
        "GET",
        "/api/trainees/{trainee_id}/progress",
        "A trainee's rating series per instrument and item, each point with its session, date, "
        "mentor, value and cited marks (?instrument=&mentor=&from=YYYY-MM-DD&to=YYYY-MM-DD); "
        "the points of each instrument's newest 50 assessments (?latest= up to 1000), with "
        "how many older ones the date filters reach.",
        "review",
        trainee_progress,
        response=ProgressOut,
    ),
    Endpoint(
        "GET",
        "/api/trainees/{trainee_id}/progress.csv",
        "The same answers as CSV, one row per answer (UTF-8 with a byte-order mark).",
        "review",
        trainee_progress_csv,
        response=str,
        response_media_type="text/csv",
    ),
]
