"""A room keeps its mode when it moves (issue 11): an "auto" room that went routed is rebuilt
routed on the node that takes it over (its node drained or died), not direct again. The switch
is remembered in the room directory (Redis with several nodes), which both kinds of directory
keep the same way."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from server.infra.roles import Role
from server.live.rooms.directory import MemoryDirectory, RedisDirectory, RoomDirectory
from server.serving import drain
from signaling import Join, Leave, MediaMode, MediaModeChanged, Welcome
from tests.media.support import loopback_ice
from tests.rooms.client import signaling
from tests.support import RunningServer, wait_for

URL = "redis://127.0.0.1:6379/0"


@contextlib.asynccontextmanager
async def directory(kind: str) -> AsyncIterator[RoomDirectory]:
    found: RoomDirectory
    if kind == "memory":
        found = MemoryDirectory("a")
    else:
        found = RedisDirectory(URL, "a", prefix=f"test-{uuid.uuid4().hex[:8]}:")
    try:
        yield found
    finally:
        await found.close()


@pytest.mark.parametrize("kind", ["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def test_the_directory_remembers_which_rooms_went_routed(kind: str) -> None:
    async with directory(kind) as rooms:
        assert not await rooms.was_routed("s1")
        await rooms.remember_routed("s1")
        await rooms.remember_routed("s1")  # again: still once
        assert await rooms.was_routed("s1")
        assert not await rooms.was_routed("s2")


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.timeout(90)
async def test_a_routed_auto_room_starts_routed_on_the_node_that_takes_it_over(
    nodes: tuple[RunningServer, RunningServer],
) -> None:
    a, b = nodes
    mentor, trainee = await a.user(Role.MENTOR), await a.user(Role.TRAINEE)
    supervisor = await a.user(Role.SUPERVISOR)
    await a.services.accounts.assign(supervisor.id, trainee.id, actor_id=None)
    https: list[httpx.AsyncClient] = [await a.signed_in(u) for u in (mentor, trainee, supervisor)]
    mentor_http, trainee_http, supervisor_http = https
    created = await mentor_http.post(
        "/api/sessions", json={"title": "Ward", "trainee_ids": [trainee.id], "media_mode": "auto"}
    )
    session_id = created.json()["id"]
    try:
        with loopback_ice():
            # On node a: two members talk directly; the observing supervisor makes it routed.
            async with (
                signaling(a, session_id, mentor_http) as desk,
                signaling(a, session_id, trainee_http) as phone,
            ):
                await desk.send(Join())
                assert (await desk.expect(Welcome)).media_mode is MediaMode.DIRECT
                await phone.send(Join())
                assert (await phone.expect(Welcome, timeout=10)).media_mode is MediaMode.DIRECT
                async with signaling(a, session_id, supervisor_http) as watcher:
                    await watcher.send(Join())
                    assert (await watcher.expect(Welcome)).media_mode is MediaMode.ROUTED
                    await desk.expect(MediaModeChanged)
                    await watcher.send(Leave())
                probe = RedisDirectory(URL, "probe")
                try:
                    await wait_for(lambda: probe.was_routed(session_id), timeout=10)
                finally:
                    await probe.close()
                # Node a goes away (SIGTERM): it gives the room up and everyone reconnects.
                await drain(a.services)
                await desk.closed(timeout=10)
            # Back on node b, two members again: the rebuilt room is routed, as it was left.
            async with (
                signaling(b, session_id, mentor_http) as desk,
                signaling(b, session_id, trainee_http) as phone,
            ):
                await desk.send(Join())
                assert (await desk.expect(Welcome, timeout=10)).media_mode is MediaMode.ROUTED
                await phone.send(Join())
                assert (await phone.expect(Welcome, timeout=10)).media_mode is MediaMode.ROUTED
    finally:
        for http in https:
            await http.aclose()
