"""The node's forwarding capacity (issue 11): a member whose streams would take the node past
`max_streams` is refused with a clear error; the calls it carries keep all of theirs."""

from __future__ import annotations

import pytest

from media import ForwardingRules, MediaConfig, MediaError, MediaErrorCode
from signaling.ids import PeerId, SessionId
from tests.media.support import ROOM, eventually, media_room

A, B, C = 60, 130, 200
OTHER = SessionId("room-2")


@pytest.mark.timeout(60)
async def test_streams_count_every_publishers_audio_and_video_to_each_viewer() -> None:
    async with media_room(MediaConfig(ice_timeout_s=5.0, max_streams=18)) as room:
        router = room.router
        router.set_rules(ROOM, ForwardingRules(observers=frozenset({PeerId("sup")})))
        assert router.streams() == 0
        await router.join(ROOM, PeerId("a"))
        assert router.streams() == 0  # alone: nobody to forward to
        await router.join(ROOM, PeerId("b"))
        assert router.streams() == 4  # a's audio and video to b, b's to a
        await router.join(ROOM, PeerId("sup"))
        assert router.streams() == 8  # the observer receives both, sends nothing
        await router.join(OTHER, PeerId("x"))
        await router.join(OTHER, PeerId("y"))
        assert router.streams() == 12  # the node's total, over its rooms
        # A third publisher in ROOM would add 2 x 2 received + 2 x 3 sent (12 + 10 > 18).
        with pytest.raises(MediaError) as refused:
            await router.join(ROOM, PeerId("c"))
        assert refused.value.code is MediaErrorCode.CAPACITY
        assert refused.value.code.value == "media-capacity"
        assert "The server is at capacity" in refused.value.message
        assert router.streams() == 12
        assert PeerId("c") not in router._rooms[ROOM].members
        # Rejoining (a rebuilt connection) takes no more than the member had: allowed.
        await router.join(ROOM, PeerId("a"))
        assert router.streams() == 12
        # Once a room frees streams, a newcomer fits.
        await router.leave(OTHER, PeerId("y"))
        assert router.streams() == 8
        await router.join(ROOM, PeerId("c"))
        assert router.streams() == 18  # 3 publishers to each other and the observer


@pytest.mark.timeout(60)
async def test_a_refused_member_degrades_nobody() -> None:
    async with media_room(MediaConfig(ice_timeout_s=5.0, max_streams=4)) as room:
        a, b = room.client("a", luma=A), room.client("b", luma=B)
        await a.join()
        await b.join()
        await eventually(lambda: a.sees(B) and b.sees(A), timeout=20)
        late = room.client("late", luma=C)
        with pytest.raises(MediaError) as refused:
            await late.join()
        assert refused.value.code is MediaErrorCode.CAPACITY
        # The call already running keeps every stream, at its rate.
        seen = a.video_lumas[B], b.video_lumas[A]
        await eventually(
            lambda: a.video_lumas[B] > seen[0] + 20 and b.video_lumas[A] > seen[1] + 20
        )
        _, forwards = room.router.stats(ROOM)
        assert len(forwards) == 4
        assert all(f.dropped == 0 for f in forwards)


async def test_no_limit_when_none_is_set() -> None:
    async with media_room(MediaConfig(ice_timeout_s=5.0, max_streams=None)) as room:
        for member in "abc":
            await room.router.join(ROOM, PeerId(member))
        assert room.router.streams() == 12
