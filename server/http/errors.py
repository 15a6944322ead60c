"""HTTP boundary helpers: one error shape ``{error, message}`` and typed request bodies.

Foreign exceptions (msgspec's decode and validation errors) are mapped here and nowhere else.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.http.validation import explain

__all__ = ["MAX_JSON_DEPTH", "ApiError", "json_response", "read_body", "too_deep"]

T = TypeVar("T")

_encoder = msgspec.json.Encoder()

MAX_JSON_DEPTH = 32
"""No body of ours nests deeper than a handful of levels; msgspec recurses once per level (also
when it skips an unknown field) and runs out of stack near a thousand."""

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


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


def too_deep(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text nests arrays and objects more than ``limit`` deep (or does not
    close them). Runs at C speed: strings are cut out, then each pass peels the innermost
    ``[]``/``{}`` pairs, so at most ``limit`` passes over what is left."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKETS)
    opened_run = re.compile(rb"[\[{]{%d}" % (limit + 1))
    for _ in range(limit):
        if not brackets:
            return False
        if opened_run.search(brackets):
            return True
        brackets = brackets.replace(b"[]", b"").replace(b"{}", b"")
    return bool(brackets)


# PostgreSQL's text cannot hold U+0000 (asyncpg refuses to send it: a 500) and no field needs
# it, so a body carrying one is refused on every database alike. In JSON it can only be the
# escape \u0000 (raw control characters are invalid), not preceded by an odd run of backslashes.
_NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


async def read_body(request: Request, schema: type[T]) -> T:
    """Decode the JSON body into ``schema``; 400 for bad JSON (not UTF-8, nested too deep),
    422 naming the bad field."""
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise ApiError(415, "unsupported-media-type", "send the body as application/json")
    body = await request.body()
    if _NUL_ESCAPE.search(body):
        raise ApiError(422, "invalid", "text may not contain the NUL character (U+0000)")
    if too_deep(body):
        raise ApiError(
            400, "bad-json", f"the body nests arrays or objects more than {MAX_JSON_DEPTH} deep"
        )
    try:
        return msgspec.json.decode(body, type=schema)
    except msgspec.ValidationError as exc:
        said = explain(exc, schema, body)
        raise ApiError(422, "invalid", said.message, fields=said.fields) from None
    except msgspec.DecodeError as exc:
        raise ApiError(400, "bad-json", f"the body is not valid JSON: {exc}") from None
    except UnicodeDecodeError:
        raise ApiError(400, "bad-json", "the body is not valid UTF-8 text") from None
    except RecursionError:  # too_deep() rules this out; kept so it can never become a 500
        raise ApiError(400, "bad-json", "the body nests too deeply") from None
