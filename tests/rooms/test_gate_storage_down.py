"""A socket handshake that finds the database unable to answer (here: its file gone, as a
pool timeout under a burst or a lost connection would) is closed 1013, "try again", and logged
as one line naming the error's type; never an unhandled error (1011) with a traceback."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from server.infra.roles import Role
from signaling.close_codes import CLOSE_TRY_AGAIN
from tests.rooms.client import signaling
from tests.support import RunningServer


async def test_a_handshake_the_database_cannot_answer_is_asked_to_come_back(
    server: RunningServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mentor = await server.user(Role.MENTOR)
    http = await server.signed_in(mentor)
    try:
        created = await http.post("/api/sessions", json={"title": "Night shift"})
        assert created.status_code == 201, created.text
        database = Path(server.config.database_url.split("///", 1)[1])
        # The database goes away under the running server: every new connection finds an
        # empty file with no tables.
        for suffix in ("", "-wal", "-shm"):
            await asyncio.to_thread(Path(f"{database}{suffix}").unlink, missing_ok=True)
        await server.services.store.engine.dispose()
        caplog.set_level(logging.WARNING)
        async with signaling(server, created.json()["id"], http) as client:
            assert await client.closed() == CLOSE_TRY_AGAIN
            assert client.ws.close_reason == "try again"
    finally:
        await http.aclose()
    unhandled = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert unhandled == []
    assert any(r.getMessage() == "socket refused: storage unavailable" for r in caplog.records)
