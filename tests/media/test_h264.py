"""H.264 constrained baseline through the router, and one video codec per room (issue 11).

PyAV here encodes H.264 (libx264), so the clients are ordinary aiortc peers that encode and
decode it; the router forwards the packets as they are, as it does VP8.
"""

from __future__ import annotations

import re

import pytest

from media import MediaConfig
from tests.media.support import ROOM, eventually, media_room

A, B = 60, 180


def video_codecs(sdp: str) -> list[str]:
    """The codecs of the SDP's video m-lines, as `name/clock;profile-level-id` (RTX left out)."""
    found = []
    for section in sdp.split("\r\nm=")[1:]:
        if not section.startswith("video") or section.startswith("video 0 "):
            continue
        names = dict(re.findall(r"^a=rtpmap:(\d+) ([\w-]+)/\d+", section, re.M))
        formats = section.split("\r\n")[0].split()[3:]
        for pt in formats:
            name = names.get(pt, "?")
            if name == "rtx":
                continue
            profile = re.search(rf"^a=fmtp:{pt} .*profile-level-id=(\w+)", section, re.M)
            found.append(f"{name}:{profile.group(1)}" if profile else name)
    return found


@pytest.mark.timeout(60)
async def test_h264_constrained_baseline_is_forwarded_both_ways() -> None:
    async with media_room(MediaConfig(ice_timeout_s=5.0, video_codec="H264")) as room:
        a, b = room.client("a", luma=A), room.client("b", luma=B)
        offer_a = await a.join()
        await b.join()
        # media offers H.264 constrained baseline only (what Safari sends), and the members
        # encode it; each decodes the other's picture, which the router never decoded.
        assert set(video_codecs(offer_a)) == {"H264:42e01f"}
        assert set(video_codecs(str(a.pc.localDescription.sdp))) == {"H264:42e01f"}
        await eventually(lambda: a.sees(B) and b.sees(A), timeout=30)
        for connection in room.router._rooms[ROOM].members.values():
            for receiver in connection.pc.getReceivers():
                assert receiver._RTCRtpReceiver__decoder_thread is None


@pytest.mark.timeout(60)
async def test_a_vp8_only_member_and_an_h264_preferring_one_share_one_codec() -> None:
    """The media peer makes every offer and offers the room's one video codec, so a member who
    prefers H.264 and one who knows only VP8 both land on VP8 and see each other."""
    async with media_room(MediaConfig(ice_timeout_s=5.0, video_codec="VP8")) as room:
        vp8_only = room.client("old-android", luma=A, codecs=("VP8",))
        h264_first = room.client("iphone", luma=B, codecs=("H264", "VP8"))
        for client in (vp8_only, h264_first):
            offer = await client.join()
            assert set(video_codecs(offer)) == {"VP8"}
            assert set(video_codecs(str(client.pc.localDescription.sdp))) == {"VP8"}
        await eventually(lambda: vp8_only.sees(B) and h264_first.sees(A), timeout=30)
        # Every later offer (the other member's tracks) stays on the room's codec too, and so
        # does every answer.
        assert room.offers
        assert all(set(video_codecs(sdp)) == {"VP8"} for sdp in room.offers)
        for client in (vp8_only, h264_first):
            assert set(video_codecs(str(client.pc.localDescription.sdp))) == {"VP8"}
