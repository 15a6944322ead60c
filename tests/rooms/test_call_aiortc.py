"""Two real WebRTC peers meet through the server: invite → lobby → admit → negotiate → video."""

from __future__ import annotations

import asyncio

import pytest

from signaling import Join, Welcome
from tests.rooms.client import SignalingClient, admit_guest, signaling
from tests.rooms.media_peer import MediaPeer, loopback_ice
from tests.support import Scene, wait_for


async def call(mentor: SignalingClient, guest: SignalingClient) -> None:
    """The guest arrives last, so it offers (DESIGN.md §2); both must receive video."""
    mentor_media, guest_media = MediaPeer(mentor), MediaPeer(guest)
    try:
        _, welcome = await admit_guest(mentor, guest, Join(display_name="Sam"))
        assert len(welcome.peers) == 1
        await guest_media.offer_to(welcome.peers[0].id)
        await mentor_media.answer_offer()
        await guest_media.accept_answer()

        async def both_see_video() -> bool:
            return mentor_media.frames_received >= 5 and guest_media.frames_received >= 5

        await wait_for(both_see_video, timeout=20)
    finally:
        await asyncio.gather(mentor_media.close(), guest_media.close())


@pytest.mark.timeout(60)
async def test_two_aiortc_peers_see_each_other(scene: Scene) -> None:
    with loopback_ice():
        async with (
            signaling(scene.server, scene.session_id, scene.mentor_http) as mentor,
            signaling(scene.server, scene.session_id, scene.guest_http) as guest,
        ):
            await mentor.send(Join())
            assert (await mentor.expect(Welcome)).ice_servers == ()
            await call(mentor, guest)
