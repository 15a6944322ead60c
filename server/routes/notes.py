"""The notes of a session over HTTP: the text, its authors, its versions, a Markdown export.

The history lists versions (who changed the text, when) in pages, newest first; each version's
text is served on its own request. Every text is bounded by the document's cap, every list by
its page size: no answer grows with the square of the typing.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.access.policy import Action, may
from server.access.principal import Principal
from server.http.endpoints import Endpoint
from server.http.errors import ApiError, json_response
from server.http.resources import session_for
from server.services import services
from session_notes import authored_runs, history_index, version_at

__all__ = ["endpoints"]

DEFAULT_PAGE = 50
MAX_PAGE = 200
_MAX_ID = 2**63 - 1  # update ids are BIGINT


class NotesOut(msgspec.Struct, frozen=True):
    text: str
    can_edit: bool
    updated_at: float | None


class RunOut(msgspec.Struct, frozen=True):
    author_id: str
    author_name: str
    text: str


class VersionOut(msgspec.Struct, frozen=True):
    id: int
    at: float
    author_id: str
    author_name: str


class NotesHistory(msgspec.Struct, frozen=True):
    """``versions``: newest first; ``next_before``: pass as ``before`` for the older page
    (null on the oldest)."""

    authored: list[RunOut]
    versions: list[VersionOut]
    next_before: int | None


class VersionText(msgspec.Struct, frozen=True):
    id: int
    at: float
    author_id: str
    author_name: str
    text: str
    authored: list[RunOut]


def _bounded_int(raw: str | None, name: str, default: int, low: int, high: int) -> int:
    if raw is None:
        return default
    if not raw.isdigit() or len(raw) > 19 or not low <= int(raw) <= high:
        raise ApiError(
            422,
            "invalid",
            f"{name} is a whole number from {low} to {high}",
            fields={name: f"from {low} to {high}"},
        )
    return int(raw)


async def get_notes(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    session = await session_for(request, principal, Action.NOTES_READ)
    updated_at = await svc.notes_store.last_update_at(session.id)
    editable = bool(may(principal, Action.NOTES_EDIT, session))
    await svc.store.audit.append(
        "record.viewed", actor_id=principal.id, target=session.id, detail={"part": "notes"}
    )
    return json_response(
        NotesOut(await svc.notes.text(session.id), editable, updated_at),
        headers={"Cache-Control": "no-store"},
    )


async def notes_history(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    session = await session_for(request, principal, Action.RECORD_VIEW)
    query = request.query_params
    before = _bounded_int(query.get("before"), "before", _MAX_ID, 1, _MAX_ID)
    limit = _bounded_int(query.get("limit"), "limit", DEFAULT_PAGE, 1, MAX_PAGE)
    history = await svc.notes_store.history(session.id)
    # Replaying the whole history is CPU work proportional to it (bounded by the log's cap):
    # off the event loop.
    runs, index = await asyncio.to_thread(history_index, history)
    older = [v for v in reversed(index) if v.id < before]
    page = older[:limit]
    await svc.store.audit.append(
        "record.viewed", actor_id=principal.id, target=session.id, detail={"part": "notes-history"}
    )
    return json_response(
        NotesHistory(
            authored=[RunOut(r.author_id, r.author_name, r.text) for r in runs],
            versions=[VersionOut(v.id, v.at, v.author_id, v.author_name) for v in page],
            next_before=page[-1].id if len(older) > limit else None,
        ),
        headers={"Cache-Control": "no-store"},
    )


async def notes_version(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    session = await session_for(request, principal, Action.RECORD_VIEW)
    raw = str(request.path_params["version_id"])
    if not raw.isdigit() or len(raw) > 19 or int(raw) > _MAX_ID:
        raise ApiError(404, "not-found", "no such version of these notes")
    version_id = int(raw)
    history = await svc.notes_store.history(session.id, upto_id=version_id)
    version = await asyncio.to_thread(version_at, history, version_id)
    if version is None:
        raise ApiError(404, "not-found", "no such version of these notes")
    await svc.store.audit.append(
        "record.viewed",
        actor_id=principal.id,
        target=session.id,
        detail={"part": "notes-version", "version": str(version_id)},
    )
    return json_response(
        VersionText(
            version.id,
            version.at,
            version.author_id,
            version.author_name,
            version.text,
            [RunOut(r.author_id, r.author_name, r.text) for r in version.authored],
        ),
        headers={"Cache-Control": "no-store"},
    )


async def notes_markdown(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    session = await session_for(request, principal, Action.RECORD_VIEW)
    history = await svc.notes_store.history(session.id)
    await svc.store.audit.append(
        "record.exported", actor_id=principal.id, target=session.id, detail={"format": "notes.md"}
    )
    when = dt.datetime.fromtimestamp(session.started_at or session.created_at, tz=dt.UTC)
    # Replaying the whole history is CPU work proportional to it: off the event loop.
    runs = await asyncio.to_thread(authored_runs, history)
    authors = sorted({r.author_name for r in runs if r.text.strip()})
    lines = [
        f"# {session.title}",
        "",
        f"*Session notes — {when:%Y-%m-%d %H:%M} UTC*"
        + (f" — written by {', '.join(authors)}" if authors else ""),
        "",
        await svc.notes.text(session.id),
        "",
    ]
    filename = f"notes-{session.id}.md"
    return Response(
        "\n".join(lines),
        media_type="text/markdown; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )


endpoints = [
    Endpoint(
        "GET",
        "/api/sessions/{session_id}/notes",
        "The notes' current text, and whether I may edit them.",
        "notes",
        get_notes,
        response=NotesOut,
    ),
    Endpoint(
        "GET",
        "/api/sessions/{session_id}/notes/history",
        "Who wrote what, and the versions of the text (newest first, paged: ?before=&limit=).",
        "notes",
        notes_history,
        response=NotesHistory,
    ),
    Endpoint(
        "GET",
        "/api/sessions/{session_id}/notes/versions/{version_id}",
        "One version of the notes: its text and who wrote which part.",
        "notes",
        notes_version,
        response=VersionText,
    ),
    Endpoint(
        "GET",
        "/api/sessions/{session_id}/notes.md",
        "The notes as Markdown.",
        "notes",
        notes_markdown,
        response=str,
        response_media_type="text/markdown",
    ),
]
