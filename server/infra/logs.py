"""Structured (JSON-lines) logs that never carry passwords, tokens or invite links."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from typing import Any

__all__ = ["configure_logging", "redact", "redact_path"]

_INVITE_PATH = re.compile(r"(/(?:join|api/invites)/)[^/?#\s]+")
_SECRET_PARAM = re.compile(
    r"((?:token|ticket|password|secret|csrf_token|resume)[\"']?\s*[=:]\s*[\"']?)[^\s&\"',}]+",
    re.IGNORECASE,
)
_SECRET_KEYS = {"password", "token", "ticket", "csrf_token", "secret", "cookie", "resume"}
_STANDARD_ATTRS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


def redact_path(path: str) -> str:
    """A request path fit for a log line: invite tokens blanked."""
    return _INVITE_PATH.sub(r"\1[redacted]", path)


def redact(text: str) -> str:
    return _SECRET_PARAM.sub(r"\1[redacted]", redact_path(text))


def _clean(key: str, value: Any) -> Any:
    if key.lower() in _SECRET_KEYS:
        return "[redacted]"
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
            "msg": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = _clean(key, value)
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str)


def configure_logging(level: str = "INFO") -> None:
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
