"""Pure ASGI middleware: security headers, unhandled errors, Origin check, body-size limit,
access metrics and logs.

The order, outermost first (``server/app.py``): security headers (so every response has them,
500s included), access log, unhandled errors, Origin check, body limit; then Starlette's own
exception handling and the routes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.http.errors import error_response
from server.infra.metrics import Metrics

__all__ = [
    "AccessLogMiddleware",
    "BodyLimitMiddleware",
    "OriginCheckMiddleware",
    "SecurityHeadersMiddleware",
    "UnhandledErrorMiddleware",
]

_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def _is_api(scope: Scope) -> bool:
    path: str = scope["path"]
    return path == "/api" or path.startswith("/api/")


CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self'",
    ]
)


class SecurityHeadersMiddleware:
    """Adds the security headers to every HTTP response, and ``Cache-Control: no-store`` to
    every API response whose handler did not choose its own (they carry records, CSRF tokens
    and invite links)."""

    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        headers = [
            (b"content-security-policy", CSP.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(self), microphone=(self), display-capture=(self)"),
        ]
        if https:
            headers.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))
        self._headers = headers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = _is_api(scope)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self._headers if k not in present]
                if api and b"cache-control" not in present:
                    extra.append((b"cache-control", b"no-store"))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class UnhandledErrorMiddleware:
    """The one place an unexpected exception ends: one log line (the exception's type and
    traceback, never its message, which may quote the request or a database row) and a JSON 500.
    It is not re-raised, so neither Starlette nor uvicorn logs it a second time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = logging.getLogger("preceptor.app")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            self.log.error(
                "unhandled error",
                exc_info=exc,
                extra={"method": scope["method"], "route": _route_template(scope)},
            )
            if not started:
                response = error_response(
                    500, "internal", "something went wrong on our side; it was logged"
                )
                await response(scope, receive, send)


class OriginCheckMiddleware:
    """A state-changing API request that says where it comes from must come from one of our
    origins (a second line behind the CSRF token; clients without an ``Origin``, such as the
    CLI, rely on the token alone)."""

    def __init__(self, app: ASGIApp, *, allowed_origins: Iterable[str]) -> None:
        self.app = app
        self.allowed = {origin.rstrip("/").lower() for origin in allowed_origins}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _UNSAFE or not _is_api(scope):
            await self.app(scope, receive, send)
            return
        origins = [value for name, value in scope["headers"] if name == b"origin"]
        if origins and any(
            value.decode("latin-1").rstrip("/").lower() not in self.allowed for value in origins
        ):
            response = error_response(
                403,
                "bad-origin",
                "this request comes from a page of another site; it is refused",
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


class BodyLimitMiddleware:
    """Reject request bodies over ``max_bytes`` with 413, whether or not Content-Length is sent."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                await self._reject(scope, receive, send)
                return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _BodyTooLarge:
            if not started:
                await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413, "too-large", f"the request body is over {self.max_bytes} bytes"
        )
        await response(scope, receive, send)


class AccessLogMiddleware:
    """Counts and logs each request by its route template, never by its raw path (which may
    carry an invite token in any spelling): a path no route matched is logged as ``unmatched``."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: Metrics,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.clock = clock
        self.log = logging.getLogger("preceptor.access")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = self.clock()
        status = 500

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            elapsed = self.clock() - started
            route = _route_template(scope)
            self.metrics.observe_request(scope["method"], route, status, elapsed)
            self.log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": route,
                    "status": status,
                    "ms": round(elapsed * 1000, 2),
                },
            )


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else "unmatched"
