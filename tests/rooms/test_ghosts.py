"""Ghosts (issue 13, defect 5): a member whose network went silent leaves the others' view in
~20 s, not 70; one who rejoins without its resume token is one member. (A member who stops
reading finds the 1013 that closed it: tests/rooms/test_signaling_socket.py.)"""

from __future__ import annotations

import time

import pytest

from signaling import (
    Join,
    PeerLeft,
    Welcome,
)
from signaling.close_codes import CLOSE_REPLACED
from tests.faults.proxy import FaultProxy
from tests.rooms.client import admit_guest, signaling
from tests.support import RunningServer, Scene

# Seen lost (keepalive ping every 5 s, 8 s to answer) plus the grace of a silent member (8 s).
SILENT_GONE_S = 25.0


@pytest.mark.slow
async def test_a_member_lost_silently_is_gone_within_25_seconds(scene: Scene) -> None:
    server = scene.server
    port = int(server.url.rsplit(":", 1)[1])
    async with FaultProxy(port) as proxy:
        via_proxy = RunningServer(f"http://127.0.0.1:{proxy.port}", server.config, server.app)
        async with (
            signaling(server, scene.session_id, scene.mentor_http) as mentor,
            signaling(via_proxy, scene.session_id, scene.guest_http, origin=server.url) as guest,
        ):
            await mentor.send(Join())
            await mentor.expect(Welcome)
            _, welcome = await admit_guest(mentor, guest)
            proxy.pause()  # the phone's network goes quiet: no close, no reset
            lost_at = time.monotonic()
            left = await mentor.expect(PeerLeft, timeout=SILENT_GONE_S + 5)
            gone_after = time.monotonic() - lost_at
            assert (left.peer, left.reason) == (welcome.peer, "timeout")
            assert gone_after <= SILENT_GONE_S, gone_after
            print(f"silent member gone after {gone_after:.1f} s")
            proxy.cut()  # the phone's old path is gone for good


async def test_rejoining_without_the_resume_token_is_one_member(scene: Scene) -> None:
    server = scene.server
    async with (
        signaling(server, scene.session_id, scene.mentor_http) as mentor,
        signaling(server, scene.session_id, scene.guest_http) as first,
    ):
        await mentor.send(Join())
        await mentor.expect(Welcome)
        _, welcome = await admit_guest(mentor, first)
        async with signaling(server, scene.session_id, scene.guest_http) as second:
            await second.send(Join())  # a reload that lost its token
            again = await second.expect(Welcome)
            assert (again.peer, again.resumed) == (welcome.peer, True)
            assert await first.closed() == CLOSE_REPLACED
            assert [p.id for p in again.peers] == [m.id for m in welcome.peers]
