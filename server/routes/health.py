"""Operations: liveness, readiness, metrics and the API description."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.access.principal import Principal
from server.http.endpoints import ANYONE, Endpoint
from server.http.errors import ApiError, json_response
from server.http.signin import client_ip
from server.services import services

__all__ = ["endpoints"]


class Health(msgspec.Struct, frozen=True):
    status: str


class Readiness(msgspec.Struct, frozen=True):
    status: str
    store: bool
    bus: bool
    draining: bool = False


async def healthz(_request: Request, _: Principal | None) -> Response:
    return json_response(Health("ok"))


async def readyz(request: Request, _: Principal | None) -> Response:
    svc = services(request)
    store_ok, bus_ok = await asyncio.gather(svc.store.ping(), svc.bus.ping())
    draining = svc.rooms.draining
    ready = store_ok and bus_ok and not draining
    status = "draining" if draining else "ready" if ready else "degraded"
    # A load balancer stops sending new people to a node that is draining (issue 13).
    return json_response(
        Readiness(status, store_ok, bus_ok, draining), status=200 if ready else 503
    )


def _allow_metrics(request: Request) -> None:
    """Metrics describe the deployment (routes, load, sign-in failures): with
    ``PRECEPTOR_METRICS_TOKEN`` set they need ``Authorization: Bearer <token>``; without it
    only a scraper on this machine (loopback) may read them."""
    token = services(request).config.metrics_token
    if token is not None:
        scheme, _, sent = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not sent:
            raise ApiError(
                401,
                "not-authenticated",
                "send Authorization: Bearer <PRECEPTOR_METRICS_TOKEN> to read metrics",
                headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        if not hmac.compare_digest(sent.strip().encode(), token.encode()):
            raise ApiError(
                401,
                "not-authenticated",
                "the metrics token is wrong",
                headers={"WWW-Authenticate": 'Bearer realm="metrics", error="invalid_token"'},
            )
        return
    if not _is_loopback(client_ip(request)):
        raise ApiError(
            403,
            "forbidden",
            "metrics are served only to this machine unless PRECEPTOR_METRICS_TOKEN is set",
        )


def _is_loopback(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


async def metrics(request: Request, _: Principal | None) -> Response:
    _allow_metrics(request)
    metrics = services(request).metrics
    # Counted at scrape time: the tasks of this event loop, which serves every socket.
    metrics.asyncio_tasks.set(len(asyncio.all_tasks()))
    return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


async def openapi(request: Request, _: Principal | None) -> Response:
    return json_response(request.app.state.openapi)


endpoints = [
    Endpoint(
        "GET", "/healthz", "The process is alive.", "ops", healthz, access=ANYONE, response=Health
    ),
    Endpoint(
        "GET",
        "/readyz",
        "The store and the bus are reachable and the node is not draining (503 when not).",
        "ops",
        readyz,
        access=ANYONE,
        response=Readiness,
    ),
    Endpoint(
        "GET",
        "/metrics",
        "Prometheus metrics (bearer token, or loopback clients only when no token is set).",
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
