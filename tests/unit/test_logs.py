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
