"""One member per person across nodes (issue 9, dead end 2): a room runs on its owner node, and a
join forwarded from another node takes over the same person's membership like a local one. Chat
stored on the owner comes back to a tab on another node."""

from __future__ import annotations

import pytest

from signaling import (
    Chat,
    ChatHistory,
    ChatPosted,
    Join,
    Lobby,
    PeerJoined,
    PeerLeft,
    Ping,
    Pong,
    Waiting,
    Welcome,
)
from signaling.close_codes import CLOSE_REPLACED
from tests.rooms.client import admit_guest, signaling
from tests.support import RunningServer, make_scene

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


async def test_a_tab_on_another_node_takes_over_and_gets_the_chat(
    nodes: tuple[RunningServer, RunningServer],
) -> None:
    a, b = nodes
    scene = await make_scene(a)
    async with (
        signaling(a, scene.session_id, scene.mentor_http) as mentor,
        signaling(b, scene.session_id, scene.guest_http) as phone,
    ):
        await mentor.send(Join())
        await mentor.expect(Welcome)
        _, first = await admit_guest(mentor, phone)
        await phone.send(Chat(text="from the phone"))
        await mentor.expect(ChatPosted)
        # The same guest opens the link on a laptop, which reaches the room's node directly.
        async with signaling(a, scene.session_id, scene.guest_http) as laptop:
            await laptop.send(Join())
            welcome = await laptop.expect(Welcome, timeout=10)
            assert (welcome.peer, welcome.resumed) == (first.peer, True)
            history = await laptop.expect(ChatHistory, timeout=10)
            assert [m.text for m in history.messages] == ["from the phone"]
            assert await phone.closed(timeout=10) == CLOSE_REPLACED
            assert (await mentor.expect(PeerLeft)).reason == "replaced"
            assert (await mentor.expect(PeerJoined)).peer.id == first.peer
    assert a.services.rooms.room_count + b.services.rooms.room_count <= 1


async def test_two_tabs_through_a_node_that_does_not_run_the_room_are_one_member(
    nodes: tuple[RunningServer, RunningServer],
) -> None:
    a, b = nodes
    scene = await make_scene(a)
    async with signaling(b, scene.session_id, scene.mentor_http) as mentor:
        await mentor.send(Join())  # node b claims the room
        await mentor.expect(Welcome)
        assert b.services.rooms.room_count == 1
        # Both of the guest's tabs reach the room through node a (forwarded joins).
        async with signaling(a, scene.session_id, scene.guest_http) as tab1:
            await tab1.send(Join())
            first = await tab1.expect(Waiting, timeout=10)
            async with signaling(a, scene.session_id, scene.guest_http) as tab2:
                await tab2.send(Join())
                second = await tab2.expect(Waiting, timeout=10)
                assert second.resume != first.resume
                assert await tab1.closed(timeout=10) == CLOSE_REPLACED
                await mentor.send(Ping(id="sync"))
                await mentor.expect(Pong)
                # The mentor's lobby shows the guest once, throughout.
                lobbies = [m.waiting for m in mentor.received if isinstance(m, Lobby)]
                assert [len(w) for w in lobbies] == [0, 1]
    assert a.services.rooms.room_count == 0
