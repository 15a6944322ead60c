"""The application factory: ``create_app(config)`` wires every piece; no module globals."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket

from server.config import Config
from server.http import endpoints as api
from server.http.errors import ApiError, error_response
from server.http.middleware import (
    AccessLogMiddleware,
    BodyLimitMiddleware,
    OriginCheckMiddleware,
    SecurityHeadersMiddleware,
    UnhandledErrorMiddleware,
)
from server.http.pages import page_routes
from server.infra.bus import open_bus
from server.infra.passwords import Passwords
from server.infra.storage import Store
from server.routes import (
    admin,
    auth,
    feedback,
    health,
    instruments,
    invites,
    notes,
    people,
    program,
    progress,
    record,
    recordings,
    sessions,
    viewers,
)
from server.services import Services
from server.sockets.notes import notes_socket
from server.sockets.signaling import signaling_socket

__all__ = ["create_app"]

log = logging.getLogger("preceptor.app")


ENDPOINTS = [
    *auth.endpoints,
    *sessions.endpoints,
    *invites.endpoints,
    *notes.endpoints,
    *people.endpoints,
    *instruments.endpoints,
    *feedback.endpoints,
    *record.endpoints,
    *recordings.endpoints,
    *progress.endpoints,
    *viewers.endpoints,
    *program.endpoints,
    *admin.endpoints,
    *health.endpoints,
]


async def _api_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.error, exc.message, exc.headers, exc.fields)


async def _http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    codes = {404: "not-found", 405: "method-not-allowed"}
    return error_response(
        exc.status_code,
        codes.get(exc.status_code, "http-error"),
        str(exc.detail),
        dict(exc.headers or {}),
    )


class _App(Starlette):
    """Starlette, with each WebSocket handshake handed straight to its endpoint. Every
    middleware here is HTTP's (headers, bodies, access log, 500s: each passes a WebSocket
    through untouched), and so are the exception handlers; yet a socket that went through them
    would keep their frames and closures, and Starlette's routing layers', for its whole life:
    a node holds thousands of idle sockets (issue 13: idle memory per socket). A socket path
    that no route matches still goes the usual way (Starlette closes it)."""

    def __init__(self, *, sockets: list[WebSocketRoute], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._sockets = sockets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            for route in self._sockets:
                match, child_scope = route.matches(scope)
                if match is Match.FULL:
                    scope["app"] = self
                    scope["route"] = route
                    scope.update(child_scope)
                    await route.endpoint(WebSocket(scope, receive, send))
                    return
        await super().__call__(scope, receive, send)


async def _warm_reads(store: Store) -> None:
    """Run a handshake's reads and a welcome's chat read once, for rows that are not there: the
    first burst of joins then finds the reading connection open and the statements compiled
    (~12 ms here, paid inside that burst otherwise: issue 8). Writes nothing; a database that
    cannot answer yet is the first request's to report, not start-up's."""
    try:
        await store.sign_ins.warm()
        await store.chat.recent("", limit=1)
    except Exception as exc:
        log.warning("could not warm the reads up", extra={"error": type(exc).__name__})


def create_app(config: Config, *, passwords: Passwords | None = None) -> Starlette:
    store = Store.open(
        config.database_url,
        idle_timeout_s=config.session_idle_timeout_s,
        absolute_timeout_s=config.session_absolute_timeout_s,
    )
    bus = open_bus(config.redis_url)
    services = Services.build(config, store, bus, passwords or Passwords())

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        await bus.start()
        await services.records.start()
        await services.rooms.start()
        services.notes.start()
        await services.recordings.start()  # recovers recordings a crash cut short
        await _warm_reads(store)
        try:
            yield
        finally:
            await services.notes.close()
            await services.rooms.close()
            await services.recordings.close()
            await services.records.close()
            await services.login_failures_by_account.close()
            await services.login_failures_by_ip.close()
            await services.invite_requests_by_ip.close()
            await services.admission.close()
            await bus.close()
            await store.close()

    sockets = [
        WebSocketRoute("/ws/sessions/{session_id}", signaling_socket),
        WebSocketRoute("/ws/notes/{session_id}", notes_socket),
    ]
    app = _App(
        sockets=sockets,
        routes=[*api.routes(ENDPOINTS), *sockets, *page_routes(config.web_dir)],
        # Outermost first. Unexpected exceptions end in UnhandledErrorMiddleware (one log line,
        # a JSON 500) instead of Starlette's ServerErrorMiddleware, which sits outside every
        # user middleware (so its 500 had no security headers) and re-raises to uvicorn (so
        # each error was logged twice).
        middleware=[
            Middleware(SecurityHeadersMiddleware, https=config.https),
            Middleware(AccessLogMiddleware, metrics=services.metrics),
            Middleware(UnhandledErrorMiddleware),
            Middleware(OriginCheckMiddleware, allowed_origins=config.allowed_origins),
            Middleware(BodyLimitMiddleware, max_bytes=config.max_body_bytes),
        ],
        exception_handlers={
            ApiError: _api_error,
            HTTPException: _http_error,
        },
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.openapi = api.openapi_document(ENDPOINTS, title="Preceptor", version="0.1.0")
    return app
