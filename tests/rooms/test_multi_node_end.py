"""Ending a session closes, on every node, the sockets of the lobby and of the room (4410)."""

from __future__ import annotations

import pytest

from signaling import Join, Waiting, Welcome
from signaling.close_codes import CLOSE_ENDED
from tests.rooms.client import admit_guest, second_guest, signaling
from tests.support import RunningServer, make_scene

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


async def test_the_end_reaches_lobby_and_room_members_on_both_nodes(
    nodes: tuple[RunningServer, RunningServer],
) -> None:
    a, b = nodes
    scene = await make_scene(a)
    waiting_http = await second_guest(scene)
    async with (
        signaling(a, scene.session_id, scene.mentor_http) as mentor,
        signaling(b, scene.session_id, scene.guest_http) as admitted,
        signaling(b, scene.session_id, waiting_http) as waiting,
    ):
        await mentor.send(Join())
        await mentor.expect(Welcome)
        await admit_guest(mentor, admitted)
        await waiting.send(Join())
        await waiting.expect(Waiting, timeout=10)
        # The mentor ends it from the page, through the node that does not run the room.
        async with b.client(cookies=scene.mentor_http.cookies) as mentor_on_b:
            mentor_on_b.headers["X-CSRF-Token"] = scene.mentor_http.headers["X-CSRF-Token"]
            ended = await mentor_on_b.post(f"/api/sessions/{scene.session_id}/end")
        assert ended.status_code == 200
        assert await waiting.closed(timeout=10) == CLOSE_ENDED
        assert await admitted.closed(timeout=10) == CLOSE_ENDED
        assert await mentor.closed(timeout=10) == CLOSE_ENDED
    await waiting_http.aclose()
