"""The notes of a session over HTTP: the text, its authors, its versions, a Markdown export."""

from __future__ import annotations

import asyncio
import datetime as dt

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.access.policy import RoomEntry, room_entry
from server.access.principal import Principal
from server.http.endpoints import Access, Endpoint
from server.http.errors import json_response
from server.http.resources import followed_by, visible_session
from server.services import services
from server.sockets.gate import Admitted
from server.sockets.notes import can_edit_notes
from session_notes import authored_runs, versions

__all__ = ["endpoints"]

MEMBERS = Access(guests=True)


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
    text: str


class NotesHistory(msgspec.Struct, frozen=True):
    authored: list[RunOut]
    versions: list[VersionOut]


async def get_notes(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    session = await visible_session(request, principal)
    updated_at = await svc.notes_store.last_update_at(session.id)
    entry = room_entry(principal, session, await followed_by(services(request), principal))
    editable = entry is not RoomEntry.REFUSED and can_edit_notes(
        Admitted(principal, session, entry)
    )
    return json_response(
        NotesOut(await svc.notes.text(session.id), editable, updated_at),
        headers={"Cache-Control": "no-store"},
    )


async def notes_history(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    session = await visible_session(request, principal)
    history = await svc.notes_store.history(session.id)
    # Replaying the whole history is CPU work proportional to it: off the event loop.
    runs, steps = await asyncio.to_thread(lambda: (authored_runs(history), versions(history)))
    await svc.store.audit.append(
        "record.viewed", actor_id=principal.id, target=session.id, detail={"part": "notes-history"}
    )
    return json_response(
        NotesHistory(
            authored=[RunOut(r.author_id, r.author_name, r.text) for r in runs],
            versions=[VersionOut(v.id, v.at, v.author_id, v.author_name, v.text) for v in steps],
        ),
        headers={"Cache-Control": "no-store"},
    )


async def notes_markdown(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    session = await visible_session(request, principal)
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
        access=MEMBERS,
        response=NotesOut,
    ),
    Endpoint(
        "GET",
        "/api/sessions/{session_id}/notes/history",
        "Who wrote what, and every version of the text.",
        "notes",
        notes_history,
        access=MEMBERS,
        response=NotesHistory,
    ),
    Endpoint(
        "GET",
        "/api/sessions/{session_id}/notes.md",
        "The notes as Markdown.",
        "notes",
        notes_markdown,
        access=MEMBERS,
        response=str,
        response_media_type="text/markdown",
    ),
]
