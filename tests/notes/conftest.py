"""The notes tests' scene: the invited guest has been admitted by the mentor (a guest reads
and writes the notes only once admitted, DESIGN.md §1), as if through the lobby."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from tests.support import RunningServer, Scene, make_scene


async def admitted_scene(server: RunningServer) -> Scene:
    made = await make_scene(server)
    me = await made.guest_http.get("/api/me")
    assert me.status_code == 200, me.text
    await server.services.store.login_sessions.admit_guest(
        me.json()["user"]["id"], made.session_id, now=time.time()
    )
    return made


@pytest.fixture
async def scene(server: RunningServer) -> AsyncIterator[Scene]:
    made = await admitted_scene(server)
    yield made
    await made.mentor_http.aclose()
    await made.guest_http.aclose()
