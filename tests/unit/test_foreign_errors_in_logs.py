"""A foreign library's error message may quote what it was given (a Redis key holds an e-mail
address): logs name the error's type only."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from redis.exceptions import ResponseError

from server.infra.throttle import RedisThrottle

EMAIL = "alice.private@example.org"


async def test_throttle_fallback_logs_the_error_type_not_its_message(
    caplog: pytest.LogCaptureFixture,
) -> None:
    throttle = RedisThrottle("redis://127.0.0.1:6379/0", 5, 60, name="account")

    async def failing(*_args: Any, **_kwargs: Any) -> Any:
        raise ResponseError(f"WRONGTYPE preceptor:throttle:account:{EMAIL}")

    throttle._attempt = failing  # type: ignore[assignment]
    with caplog.at_level(logging.WARNING):
        assert await throttle.attempt(EMAIL, 1.0) == 0.0  # counted in memory instead
    await throttle.close()
    [record] = [r for r in caplog.records if "falls back" in r.getMessage()]
    assert record.__dict__["error"] == "ResponseError"
    assert EMAIL not in caplog.text
