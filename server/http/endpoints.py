"""Declared API operations: one place says a route's method, path, access rule and body types,
from which both the Starlette route (with auth and CSRF enforced) and the OpenAPI document come."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.access.policy import Action, may
from server.access.principal import Principal
from server.http.errors import ApiError
from server.http.resources import require
from server.http.signin import check_csrf, require_principal

__all__ = ["ANYONE", "SIGNED_IN", "Access", "Endpoint", "Handler", "openapi_document"]

Handler = Callable[[Request, Principal | None], Awaitable[Response]]
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


@dataclass(frozen=True)
class Access:
    """Who may call: ``public`` needs no session; otherwise a session, and the policy's yes to
    ``action`` when the route acts on the program rather than on one resource (routes on a
    session or a form ask the policy once they have loaded it). ``csrf`` is enforced on
    state-changing methods with a session."""

    public: bool = False
    action: Action | None = None
    csrf: bool = True


ANYONE = Access(public=True, csrf=False)
SIGNED_IN = Access()


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    summary: str
    tag: str
    handler: Handler
    access: Access = SIGNED_IN
    body: Any = None
    response: Any = None
    status: int = 200
    response_media_type: str = "application/json"

    def route(self) -> Route:
        access = self.access
        handler = self.handler
        unsafe = self.method in _UNSAFE

        async def endpoint(request: Request) -> Response:
            principal: Principal | None = None
            if not access.public:
                principal = await require_principal(request)
                if access.action is not None:
                    require(may(principal, access.action))
                if unsafe and access.csrf:
                    check_csrf(request, principal)
            if any("\x00" in str(value) for value in request.path_params.values()):
                # No stored id holds a NUL (PostgreSQL's text cannot; asyncpg refuses to send one).
                raise ApiError(404, "not-found", "no such resource")
            return await handler(request, principal)

        return Route(self.path, endpoint, methods=[self.method], name=self.handler.__name__)


def routes(endpoints: Iterable[Endpoint]) -> list[Route]:
    return [endpoint.route() for endpoint in endpoints]


_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "message"],
    "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
}


def openapi_document(endpoints: Sequence[Endpoint], *, title: str, version: str) -> dict[str, Any]:
    """OpenAPI 3.1 for the declared endpoints, schemas generated from their msgspec types."""
    types = [t for e in endpoints for t in (e.body, e.response) if t is not None]
    schemas, components = msgspec.json.schema_components(
        types, ref_template="#/components/schemas/{name}"
    )
    schema_of = dict(zip(types, schemas, strict=True))
    components["Error"] = _ERROR_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        operation: dict[str, Any] = {
            "summary": e.summary,
            "tags": [e.tag],
            "operationId": e.handler.__name__,
            "responses": {
                "4XX": {
                    "description": "Client error",
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
            },
        }
        params = [
            {"name": seg[1:-1], "in": "path", "required": True, "schema": {"type": "string"}}
            for seg in e.path.split("/")
            if seg.startswith("{") and seg.endswith("}")
        ]
        if params:
            operation["parameters"] = params
        if e.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": schema_of[e.body]}},
            }
        ok: dict[str, Any] = {"description": "OK"}
        if e.response is not None:
            ok["content"] = {e.response_media_type: {"schema": schema_of[e.response]}}
        operation["responses"][str(e.status)] = ok
        if e.access.public:
            operation["security"] = []
        else:
            if e.access.action is not None:
                operation["description"] = f"Policy action: {e.access.action.value}"
            if e.method in _UNSAFE and e.access.csrf:
                operation.setdefault("parameters", []).append(
                    {
                        "name": "X-CSRF-Token",
                        "in": "header",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                )
        paths.setdefault(e.path, {})[e.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "session": {"type": "apiKey", "in": "cookie", "name": "preceptor_session"}
            },
        },
        "security": [{"session": []}],
    }
