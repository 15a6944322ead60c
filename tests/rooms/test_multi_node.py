"""Two server nodes joined by the machine's Redis and PostgreSQL serve one room: members on
different nodes see each other, signal each other and get each other's video."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from signaling import (
    Chat,
    ChatPosted,
    Join,
    Mark,
    MarkAdded,
    PeerLeft,
    Ping,
    Pong,
    Waiting,
    Welcome,
)
from tests.rooms.client import admit_guest, signaling
from tests.rooms.media_peer import loopback_ice
from tests.rooms.test_call_aiortc import call
from tests.support import (
    RunningServer,
    make_scene,
    multi_node_config,
    postgres_database,
    running_server,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


async def test_members_on_two_nodes_share_one_room(
    nodes: tuple[RunningServer, RunningServer],
) -> None:
    a, b = nodes
    scene = await make_scene(a)
    async with (
        signaling(a, scene.session_id, scene.mentor_http) as mentor,
        signaling(b, scene.session_id, scene.guest_http) as guest,
    ):
        await mentor.send(Join())
        await mentor.expect(Welcome)
        _, welcome = await admit_guest(mentor, guest)
        assert [p.role for p in welcome.peers] == ["mentor"]
        await guest.send(Chat(text="across nodes"))
        assert (await mentor.expect(ChatPosted)).text == "across nodes"
        # The guest's own copy first (stored, then relayed to everyone, the sender too).
        assert (await guest.expect(ChatPosted)).text == "across nodes"
        await guest.send(Ping(id="b"))
        assert (await guest.expect(Pong)).id == "b"
        await mentor.send(Chat(text="and back"))
        assert (await guest.expect(ChatPosted)).text == "and back"
    # Whichever node ran the room, it closed it when the last member was gone.
    assert a.services.rooms.room_count + b.services.rooms.room_count <= 1


async def test_video_flows_between_members_on_two_nodes(
    nodes: tuple[RunningServer, RunningServer],
) -> None:
    a, b = nodes
    scene = await make_scene(b)
    with loopback_ice():
        async with (
            signaling(b, scene.session_id, scene.mentor_http) as mentor,
            signaling(a, scene.session_id, scene.guest_http) as guest,
        ):
            await mentor.send(Join())
            await mentor.expect(Welcome)
            await call(mentor, guest)
            await guest.send(Join())  # already joined: refused, room unharmed
            await guest.send(Ping(id="after"))
            assert (await guest.expect(Pong)).id == "after"
        assert not any(isinstance(m, PeerLeft) and m.reason == "left" for m in mentor.received)


async def test_ending_on_one_node_closes_sockets_on_the_other(
    nodes: tuple[RunningServer, RunningServer],
) -> None:
    a, b = nodes
    scene = await make_scene(a)
    async with signaling(a, scene.session_id, scene.guest_http) as guest:
        await guest.send(Join())
        await guest.expect(Waiting)
        # The mentor's browser reaches the other node (same cookie: sessions live in the DB).
        async with b.client(cookies=scene.mentor_http.cookies) as mentor_on_b:
            mentor_on_b.headers["X-CSRF-Token"] = scene.mentor_http.headers["X-CSRF-Token"]
            ended = await mentor_on_b.post(f"/api/sessions/{scene.session_id}/end")
        assert ended.status_code == 200
        assert await guest.closed(timeout=10) == 4410


@pytest.fixture
async def quiet_nodes(tmp_path: Path) -> AsyncIterator[tuple[RunningServer, RunningServer]]:
    """Like ``nodes``, on a Redis database of their own (sign-in throttles live in Redis and
    other suites on this machine share database 0)."""
    async with postgres_database() as url:
        config = replace(multi_node_config(tmp_path, url), redis_url="redis://127.0.0.1:6379/9")
        async with running_server(config) as a, running_server(config) as b:
            yield a, b


async def test_a_room_first_opened_through_another_node_keeps_the_session_start(
    quiet_nodes: tuple[RunningServer, RunningServer],
) -> None:
    """Marks count from when the session went live, even when the room's node learnt of the
    room from a join forwarded by another node (issue 8, item 11)."""
    a, b = quiet_nodes
    scene = await make_scene(a)
    went_live = time.time() - 600
    await a.services.store.sessions.mark_live(scene.session_id, now=went_live)
    # Node a holds the room's claim, so the first join, made on b, is forwarded to a. On a Redis
    # database no node has used yet, vacant claims are held back for a lease first.
    claim = None
    deadline = time.monotonic() + 5
    while claim is None and time.monotonic() < deadline:
        claim = await a.services.rooms._directory.claim(scene.session_id)
        if claim is None:
            await asyncio.sleep(0.1)
    assert claim is not None
    assert claim.owner == a.services.rooms.node_id
    async with signaling(b, scene.session_id, scene.mentor_http) as mentor:
        await mentor.send(Join())
        await mentor.expect(Welcome)
        assert a.services.rooms.room_count == 1
        await mentor.send(Mark(label="ten minutes in"))
        added = await mentor.expect(MarkAdded)
    assert 600_000 <= added.at_ms < 660_000
