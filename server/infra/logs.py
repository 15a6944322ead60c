"""Structured (JSON-lines) logs that never carry passwords, tokens, invite links or personal data.

Exception messages are never written: a database driver's message can quote the row it refused
(PostgreSQL's ``DETAIL: Key (email)=(…)``, "Failing row contains (…)") and a parser's can quote the
request body. A log line names the exception's type and where it was raised, nothing more.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import traceback
from typing import Any

__all__ = ["configure_logging", "describe_exception", "redact", "redact_path"]

# A path-like run of text: from a slash up to whitespace, a query, a fragment or a quote.
_PATH = re.compile(r"/[^\s?#\"'<>]*")
# Segments after which every segment may be an invite token, in any spelling of the name;
# ``join;T`` or ``invites%2FT`` glue the token on, so the name may be followed by a separator.
_MARKER = re.compile(r"^(join|invites)(?:$|(?=[^a-z0-9_]))", re.IGNORECASE)
# The only words that follow a token on our own routes (``…/invites/{token}/redeem``).
_KEEP_AFTER_MARKER = {"redeem", "revoke"}
_SECRET_PARAM = re.compile(
    r"((?:token|ticket|password|secret|csrf_token|resume)[\"']?\s*[=:]\s*[\"']?)[^\s&\"',}]+",
    re.IGNORECASE,
)
_SECRET_KEYS = {"password", "token", "ticket", "csrf_token", "secret", "cookie", "resume"}
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}
_REDACTED = "[redacted]"


def _blank_segments(match: re.Match[str]) -> str:
    out: list[str] = []
    secret = False
    for segment in match.group().split("/"):
        if secret and segment and segment.lower() not in _KEEP_AFTER_MARKER:
            out.append(_REDACTED)
            continue
        marker = _MARKER.match(segment)
        if marker:
            secret = True
            tail = segment[marker.end() :]
            segment = marker.group(1) + (_REDACTED if tail else "")
        out.append(segment)
    return "/".join(out)


def redact_path(path: str) -> str:
    """A path (or text holding paths) fit for a log line: every segment after a ``join`` or
    ``invites`` segment blanked, whatever the case, the slashes or where it stands."""
    return _PATH.sub(_blank_segments, path)


def redact(text: str) -> str:
    return _SECRET_PARAM.sub(r"\1[redacted]", redact_path(text))


def _type_name(exc: BaseException) -> str:
    kind = type(exc)
    return (
        kind.__qualname__
        if kind.__module__ == "builtins"
        else f"{kind.__module__}.{kind.__qualname__}"
    )


def describe_exception(exc: BaseException) -> str:
    """The exception chain as tracebacks and type names, without any exception's message."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not seen for seen in chain):
        chain.append(current)
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )
    parts: list[str] = []
    for link in reversed(chain):
        if parts:
            parts.append("\nwhich led to:\n")
        parts.append("Traceback (most recent call last):\n")
        parts.extend(traceback.format_tb(link.__traceback__))
        parts.append(f"{_type_name(link)} (message withheld)")
        if isinstance(link, BaseExceptionGroup):
            parts.append(": " + ", ".join(_type_name(inner) for inner in link.exceptions))
    return "".join(parts)


def _safe(value: Any) -> Any:
    """A log argument or field as it may be written: an exception becomes its type name."""
    if isinstance(value, BaseException):
        return _type_name(value)
    return value


def _message(record: logging.LogRecord) -> str:
    message = str(record.msg)
    if isinstance(record.args, tuple) and record.args:
        message = message % tuple(_safe(arg) for arg in record.args)
    elif isinstance(record.args, dict) and record.args:
        message = message % {key: _safe(arg) for key, arg in record.args.items()}
    return message


def _clean(key: str, value: Any) -> Any:
    if key.lower() in _SECRET_KEYS:
        return _REDACTED
    value = _safe(value)
    if isinstance(value, str):
        return redact(value)
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "at": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(_message(record)),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = _clean(key, value)
        if record.exc_info and record.exc_info[1] is not None:
            entry["exc"] = redact(describe_exception(record.exc_info[1]))
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on standard error for every logger."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # uvicorn's own access log prints raw paths (invite tokens); ours logs route templates.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
