from __future__ import annotations

import json
import logging

from server.infra.logs import JsonFormatter, redact, redact_path


def test_invite_tokens_never_reach_a_log_line() -> None:
    assert redact_path("/join/abcDEF123_-") == "/join/[redacted]"
    assert redact_path("/api/invites/abcDEF/redeem") == "/api/invites/[redacted]/redeem"
    assert "s3cr3t" not in redact("GET /ws/sessions/1?ticket=s3cr3t&x=1")
    assert "hunter22" not in redact('{"password": "hunter22"}')


def test_json_lines_with_secrets_blanked() -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "opened %s", ("/join/tok123",), None)
    record.password = "hunter22"
    record.user_id = "u1"
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["msg"] == "opened /join/[redacted]"
    assert entry["password"] == "[redacted]"
    assert entry["user_id"] == "u1"
    assert "tok123" not in line
    assert "hunter22" not in line


def test_every_spelling_of_an_invite_path_is_blanked() -> None:
    for path in ["/join//T0k", "/JOIN/T0k", "/api/Invites/T0k", "/join/./T0k", "/join;T0k"]:
        assert "T0k" not in redact_path(path), path
    assert redact_path("/api/sessions/s1/invites/i1/revoke") == (
        "/api/sessions/s1/invites/[redacted]/revoke"
    )


def test_an_exception_is_logged_by_type_and_place_never_by_its_message() -> None:
    try:
        try:
            email = "jo" + "@example.org"  # not a literal: tracebacks quote source lines
            raise ValueError(f"DETAIL: Key (email)=({email}) already exists.")
        except ValueError as inner:
            notes = "Patient" + " notes"
            raise RuntimeError(f"parameters: ('{notes}',)") from inner
    except RuntimeError as exc:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed: %s", (exc,), None)
        record.exc_info = (type(exc), exc, exc.__traceback__)
        record.error = exc
    entry = json.loads(JsonFormatter().format(record))
    assert "jo@example.org" not in json.dumps(entry)
    assert "Patient notes" not in json.dumps(entry)
    assert entry["msg"] == "failed: RuntimeError"
    assert entry["error"] == "RuntimeError"
    assert "ValueError" in entry["exc"]
    assert "test_logs.py" in entry["exc"]
