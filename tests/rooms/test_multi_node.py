"""Two server nodes joined by the machine's Redis and PostgreSQL serve one room: members on
different nodes see each other, signal each other and get each other's video."""

from __future__ import annotations

import pytest

from signaling import Chat, ChatPosted, Join, PeerLeft, Ping, Pong, Waiting, Welcome
from tests.rooms.client import admit_guest, signaling
from tests.rooms.media_peer import loopback_ice
from tests.rooms.test_call_aiortc import call
from tests.support import RunningServer, make_scene

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
