"""The program's numbers for its leads (admins): sessions per trainee and per mentor per month,
feedback completion, median time to feedback, the countersign backlog and the entrustment
levels given per EPA (issue 10). Every view and export is audited."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from server.access.policy import Action
from server.access.principal import Principal
from server.http.endpoints import Access, Endpoint
from server.http.errors import json_response
from server.services import Services, services
from session_notes.coaching import HeldSession, Program, program
from session_notes.progress import templates_by_version
from session_notes.progress_csv import csv_text

__all__ = ["endpoints"]

_CSV_HEADER = ("kind", "id", "name", "month", "sessions")


async def _program(svc: Services) -> Program:
    sessions = [s for s in await svc.store.sessions.everything() if s.started_at is not None]
    marks = await svc.store.marks.counts([s.id for s in sessions])
    held = [
        HeldSession(s.id, s.mentor_id, s.trainee_ids, s.started_at, s.ended_at, marks.get(s.id, 0))
        for s in sessions
        if s.started_at is not None
    ]
    people: dict[str, str] = {str(u.id): u.name for u in await svc.store.users.all()}
    templates = templates_by_version(await svc.instruments.versions())
    return program(held, await svc.feedback.submitted(), people=people, templates=templates)


async def program_numbers(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    found = await _program(svc)
    await svc.store.audit.append("program.viewed", actor_id=principal.id, target="program")
    return json_response(found, headers={"Cache-Control": "no-store"})


async def program_csv(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    found = await _program(svc)
    rows = [
        (kind, row.id, row.name, month, str(n))
        for kind, rows in (("trainee", found.trainees), ("mentor", found.mentors))
        for row in rows
        for month, n in row.months.items()
    ]
    await svc.store.audit.append("program.exported", actor_id=principal.id, target="program")
    stamp = time.strftime("%Y-%m-%d", time.gmtime())
    return Response(
        csv_text(rows, _CSV_HEADER).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="program-sessions-{stamp}.csv"',
        },
    )


endpoints = [
    Endpoint(
        "GET",
        "/api/program",
        "The program's numbers: sessions per trainee and mentor per month, feedback completion, "
        "median time to feedback, countersign backlog, entrustment levels per EPA.",
        "review",
        program_numbers,
        access=Access(action=Action.PROGRAM_READ),
        response=Program,
    ),
    Endpoint(
        "GET",
        "/api/program.csv",
        "Sessions per trainee and per mentor per month, as CSV.",
        "review",
        program_csv,
        access=Access(action=Action.PROGRAM_READ),
        response=str,
        response_media_type="text/csv",
    ),
]
