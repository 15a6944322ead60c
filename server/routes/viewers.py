"""Who viewed or exported a trainee's record: their progress (page and CSV) and the records of
their sessions, read from the audit log (issue 10, "the trainee can see who viewed their
record"). Only the trainee and admins may ask (``Action.PROGRESS_VIEWERS``).

Reading this list is not itself audited: it shows no part of the record, only the log's own
entries about it, to the person the record is about (or to an admin, who may read the whole log);
auditing it would add the trainee's every visit to their own page to the log they are reading.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.access.policy import Action
from server.access.principal import Principal
from server.http.endpoints import Endpoint
from server.http.errors import ApiError, json_response
from server.http.resources import trainee_for
from server.infra.audit_chain import AuditEvent
from server.infra.roles import User
from server.services import Services, services

__all__ = ["endpoints"]

_LOOKS = ("progress.viewed", "progress.exported", "record.viewed", "record.exported")
_RECORDING = "recording.viewed"
_PAGE = 50
_MAX_PAGE = 200
# One visit to a record's page reads several of its parts (each audited); looks by the same
# person at the same thing closer together than this are one row.
_VISIT_S = 30 * 60.0


class Viewer(msgspec.Struct, frozen=True):
    name: str
    role: str
    """mentor, trainee, supervisor, admin, or guest (came through an invite link)."""


class SessionRef(msgspec.Struct, frozen=True):
    id: str
    title: str


class View(msgspec.Struct, frozen=True):
    at: float
    """The latest look of this visit (epoch seconds)."""
    viewer: Viewer
    what: Literal["progress", "record", "recording"]
    exported: bool
    format: str | None
    """For an export: csv, fhir, notes.md."""
    session: SessionRef | None
    """The session whose record (or recording) it was; none for the progress page."""
    looks: int
    """Audited reads merged into this row (one visit reads several parts of a record)."""


class ViewsOut(msgspec.Struct, frozen=True):
    views: list[View]
    """Newest first."""
    next: int | None
    """Pass as ``before`` for the next, older page; none when this is the last."""


def _whole_number(request: Request, name: str, default: int | None, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None and default is not None:
        return default
    if raw is None or not raw.isdigit() or not low <= int(raw) <= high:
        raise ApiError(422, "invalid", f"{name} must be a whole number from {low} to {high}")
    return int(raw)


async def _viewers(svc: Services, events: Iterable[AuditEvent]) -> dict[str, Viewer]:
    found: dict[str, Viewer] = {}
    for actor in {e.actor_id for e in events if e.actor_id}:
        user: User | None = await svc.store.users.get(actor)
        if user is not None:
            found[actor] = Viewer(user.name, user.role.value)
        else:
            guest = await svc.store.login_sessions.guest_name(actor)
            found[actor] = Viewer(guest or "A guest", "guest")
    return found


def _what(event: AuditEvent) -> tuple[Literal["progress", "record", "recording"], bool, str | None]:
    if event.action == _RECORDING:
        return "recording", False, None
    exported = event.action.endswith(".exported")
    what: Literal["progress", "record"] = (
        "progress" if event.action.startswith("progress.") else "record"
    )
    return what, exported, event.detail.get("format") if exported else None


def views(
    events: Sequence[AuditEvent], viewers: dict[str, Viewer], titles: dict[str, str]
) -> list[View]:
    """Newest-first events as rows: one per visit (same person, same thing, same kind of look,
    each look within ``_VISIT_S`` of the next)."""
    rows: list[View] = []
    last: tuple[object, ...] | None = None
    oldest = 0.0
    for event in events:
        what, exported, fmt = _what(event)
        key = (event.actor_id, event.target, what, exported, fmt)
        if rows and key == last and oldest - event.at <= _VISIT_S:
            merged = rows[-1]
            rows[-1] = msgspec.structs.replace(merged, looks=merged.looks + 1)
        else:
            session = (
                SessionRef(event.target, titles.get(event.target, ""))
                if what != "progress" and event.target is not None
                else None
            )
            viewer = viewers.get(event.actor_id or "", Viewer("Someone", ""))
            rows.append(View(event.at, viewer, what, exported, fmt, session, 1))
        last, oldest = key, event.at
    return rows


async def trainee_views(request: Request, principal: Principal | None) -> Response:
    """A page of who viewed or exported the trainee's record, newest first; the trainee's own
    looks are left out."""
    assert principal is not None
    svc = services(request)
    try:
        trainee, sessions = await trainee_for(request, principal, Action.PROGRESS_VIEWERS)
        limit = _whole_number(request, "limit", _PAGE, 1, _MAX_PAGE)
        before = (
            _whole_number(request, "before", None, 1, 2**63 - 1)
            if "before" in request.query_params
            else None
        )
    except ApiError as refused:
        await svc.store.audit.append(
            "progress.refused",
            actor_id=principal.id,
            target=request.path_params["trainee_id"][:64],
            detail={"part": "views", "status": str(refused.status)},
        )
        raise
    events = await svc.store.audit.about_any(
        [trainee.id, *(s.id for s in sessions)],
        actions=(*_LOOKS, _RECORDING),
        not_by=trainee.id,
        before=before,
        limit=limit,
    )
    rows = views(events, await _viewers(svc, events), {s.id: s.title for s in sessions})
    more = len(events) == limit
    out = ViewsOut(rows, events[-1].seq if more else None)
    return json_response(out, headers={"Cache-Control": "no-store"})


endpoints = [
    Endpoint(
        "GET",
        "/api/trainees/{trainee_id}/views",
        "Who viewed or exported the trainee's progress and session records, newest first "
        "(?limit= up to 200, ?before= a page's next); for the trainee themselves and admins.",
        "review",
        trainee_views,
        response=ViewsOut,
    ),
]
