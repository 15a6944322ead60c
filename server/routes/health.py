"""Operations: liveness, readiness, metrics and the API description."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.access.principal import Principal
from server.http.endpoints import ANYONE, Endpoint
from server.http.errors import json_response
from server.services import services

__all__ = ["endpoints"]


class Health(msgspec.Struct, frozen=True):
    status: str


class Readiness(msgspec.Struct, frozen=True):
    status: str
    store: bool
    bus: bool


async def healthz(_request: Request, _: Principal | None) -> Response:
    return json_response(Health("ok"))


async def readyz(request: Request, _: Principal | None) -> Response:
    svc = services(request)
    store_ok, bus_ok = await asyncio.gather(svc.store.ping(), svc.bus.ping())
    ready = store_ok and bus_ok
    return json_response(
        Readiness("ready" if ready else "degraded", store_ok, bus_ok), status=200 if ready else 503
    )


async def metrics(request: Request, _: Principal | None) -> Response:
    return Response(
        services(request).metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
    )


async def openapi(request: Request, _: Principal | None) -> Response:
    return json_response(request.app.state.openapi)


endpoints = [
    Endpoint(
        "GET", "/healthz", "The process is alive.", "ops", healthz, access=ANYONE, response=Health
    ),
    Endpoint(
        "GET",
        "/readyz",
        "The store and the bus are reachable (503 when not).",
        "ops",
        readyz,
        access=ANYONE,
        response=Readiness,
    ),
    Endpoint(
        "GET",
        "/metrics",
        "Prometheus metrics.",
        "ops",
        metrics,
        access=ANYONE,
        response=str,
        response_media_type="text/plain",
    ),
    Endpoint(
        "GET",
        "/api/openapi.json",
        "This document.",
        "ops",
        openapi,
        access=ANYONE,
        response=dict[str, Any],
    ),
]
