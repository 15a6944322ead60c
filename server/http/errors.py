"""HTTP boundary helpers: one error shape ``{error, message}`` and typed request bodies.

Foreign exceptions (msgspec's decode and validation errors) are mapped here and nowhere else.
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["ApiError", "json_response", "read_body"]

T = TypeVar("T")

_encoder = msgspec.json.Encoder()


class ApiError(Exception):
    """A client error with a machine-readable code and a sentence a person can act on."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        headers: dict[str, str] | None = None,
        *,
        fields: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers or {}
        self.fields = fields
        """Every field-level problem (field → reason) when there are several to show."""


def json_response(
    content: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        _encoder.encode(content),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def error_response(
    status: int,
    error: str,
    message: str,
    headers: dict[str, str] | None = None,
    fields: dict[str, str] | None = None,
) -> Response:
    body: dict[str, object] = {"error": error, "message": message}
    if fields:
        body["fields"] = fields
    return json_response(body, status, headers)


async def read_body(request: Request, schema: type[T]) -> T:
    """Decode the JSON body into ``schema``; 400 for bad JSON, 422 naming the bad field."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise ApiError(415, "unsupported-media-type", "send the body as application/json")
    body = await request.body()
    try:
        return msgspec.json.decode(body, type=schema)
    except msgspec.ValidationError as exc:
        raise ApiError(422, "invalid", str(exc)) from None
    except msgspec.DecodeError as exc:
        raise ApiError(400, "bad-json", f"the body is not valid JSON: {exc}") from None
