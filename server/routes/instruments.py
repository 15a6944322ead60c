"""Feedback templates: ``GET /api/instruments``, one with ``/{id}``, and programs' own (admin)."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.access.policy import Action
from server.access.principal import Principal
from server.http.endpoints import Access, Endpoint
from server.http.errors import ApiError, json_response
from server.services import services
from session_notes.instruments import DuplicateVersion, Template, TemplateError, load_template

__all__ = ["endpoints"]


class InstrumentSummary(msgspec.Struct, frozen=True):
    id: str
    name: str
    short_name: str
    kind: str
    template_version: str
    respondent: str
    provenance: str
    description: str


def _summary(t: Template) -> InstrumentSummary:
    return InstrumentSummary(
        t.id,
        t.name,
        t.short_name,
        t.kind,
        t.template_version,
        t.respondent,
        t.provenance,
        t.description,
    )


async def list_instruments(request: Request, _: Principal | None) -> Response:
    return json_response([_summary(t) for t in await services(request).instruments.latest()])


async def get_instrument(request: Request, _: Principal | None) -> Response:
    instrument_id = request.path_params["instrument_id"]
    version = request.query_params.get("version")
    template = await services(request).instruments.get(instrument_id, version)
    if template is None:
        raise ApiError(
            404,
            "not-found",
            f"no instrument {instrument_id!r}" + (f" at version {version}" if version else ""),
        )
    return json_response(template)


async def add_instrument(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise ApiError(415, "unsupported-media-type", "send the template as application/json")
    try:
        template = load_template(await request.body())
    except TemplateError as exc:
        raise ApiError(422, "invalid", str(exc)) from None
    try:
        await svc.instruments.add(template, created_by=principal.id)
    except DuplicateVersion:
        raise ApiError(
            409,
            "version-exists",
            f"{template.id} {template.template_version} exists; templates are never edited in "
            "place: post it with a new template_version",
        ) from None
    await svc.store.audit.append(
        "instrument.added",
        actor_id=principal.id,
        target=template.id,
        detail={"version": template.template_version},
    )
    return json_response(template, status=201)


endpoints = [
    Endpoint(
        "GET",
        "/api/instruments",
        "Feedback instruments (latest version of each).",
        "instruments",
        list_instruments,
        access=Access(action=Action.INSTRUMENTS_READ),
        response=list[InstrumentSummary],
    ),
    Endpoint(
        "GET",
        "/api/instruments/{instrument_id}",
        "One instrument template (?version= for an earlier one).",
        "instruments",
        get_instrument,
        access=Access(action=Action.INSTRUMENTS_READ),
        response=Template,
    ),
    Endpoint(
        "POST",
        "/api/admin/instruments",
        "Add a program's own template, or a new version of one (admins).",
        "instruments",
        add_instrument,
        access=Access(action=Action.INSTRUMENTS_MANAGE),
        body=Template,
        response=Template,
        status=201,
    ),
]
