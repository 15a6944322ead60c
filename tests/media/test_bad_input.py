"""Bad input to the media peer (issue 11 "Bad input"): each refused clearly, nothing leaked."""

from __future__ import annotations

import asyncio
import gc

import pytest

from media import MediaConfig, MediaError, MediaErrorCode, MediaFailure
from media.errors import FOREIGN_ERRORS, mapped
from signaling.ids import PeerId
from signaling.messages import IceCandidate
from tests.media.support import ROOM, eventually, media_room, open_sockets

GARBAGE = [
    "",
    "hello",
    "v=0\r\n",
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video\r\n",
    "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 96\r\na=rtpmap:96\r\n",
    "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF x\r\na=ssrc-group:FID\r\na=mid:0\r\n",
    "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 96\r\na=candidate:1\r\na=fmtp:96 apt=\r\n",
]


def test_every_foreign_error_type_maps_to_media_error() -> None:
    for error_type in FOREIGN_ERRORS:
        with pytest.raises(MediaError) as raised, mapped(MediaErrorCode.BAD_SDP, "Bad."):
            raise error_type("boom") if error_type is not StopIteration else StopIteration()
        assert raised.value.code in (MediaErrorCode.BAD_SDP, MediaErrorCode.NO_USABLE_CODEC)


@pytest.mark.timeout(60)
async def test_unparsable_sdp_is_a_media_error_and_the_member_can_still_answer() -> None:
    async with media_room() as room:
        a, b = room.client("a", luma=60), room.client("b", luma=130)
        await a.join()
        offer = await b.join(answer=False)
        for sdp in GARBAGE:
            with pytest.raises(MediaError) as refused:
                await room.router.answer(ROOM, b.member, sdp)
            assert refused.value.code is MediaErrorCode.BAD_SDP, sdp
            with pytest.raises(MediaError):
                await room.router.offer(ROOM, b.member, sdp)
        with pytest.raises(MediaError) as refused:
            await room.router.candidate(ROOM, b.member, IceCandidate(candidate="candidate:x"))
        assert refused.value.code is MediaErrorCode.BAD_CANDIDATE
        with pytest.raises(MediaError) as refused:
            await room.router.answer(ROOM, PeerId("nobody"), "v=0")
        assert refused.value.code is MediaErrorCode.NOT_JOINED
        await b.answer(offer)
        await eventually(lambda: a.sees(130) and b.sees(60), timeout=20)


@pytest.mark.timeout(60)
async def test_an_answer_with_no_usable_codec_is_refused() -> None:
    async with media_room() as room:
        a = room.client("a", luma=60)
        offer = await a.join(answer=False)
        answer = await a.make_answer(offer)
        # The member answers the room's VP8 with a codec the room does not use.
        foreign = answer.replace("VP8/90000", "AV1/90000").replace("opus/48000/2", "G729/8000")
        with pytest.raises(MediaError) as refused:
            await room.router.answer(ROOM, a.member, foreign)
        assert refused.value.code is MediaErrorCode.NO_USABLE_CODEC


def _tasks() -> set[asyncio.Task[object]]:
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


@pytest.mark.timeout(60)
async def test_ice_that_never_completes_times_out_and_frees_everything() -> None:
    tasks, sockets = _tasks(), open_sockets()
    async with media_room(MediaConfig(ice_timeout_s=0.5)) as room:
        silent = room.client("silent", luma=60)
        await silent.join(answer=False)  # gets media's offer, never answers: ICE never starts
        assert open_sockets() > sockets
        await eventually(lambda: bool(silent.failures), timeout=5)
        failure = silent.failures[0]
        assert isinstance(failure, MediaFailure)
        assert failure.error.code is MediaErrorCode.ICE_TIMEOUT
        assert room.router.link(ROOM, silent.member) is None
        with pytest.raises(MediaError):
            await room.router.answer(ROOM, silent.member, "v=0")
    gc.collect()
    await eventually(lambda: _tasks() <= tasks and open_sockets() <= sockets, timeout=5)


@pytest.mark.timeout(60)
async def test_a_full_call_then_leaving_and_closing_leaks_no_task_or_socket() -> None:
    tasks, sockets = _tasks(), open_sockets()
    async with media_room() as room:
        a, b = room.client("a", luma=60), room.client("b", luma=130)
        await a.join()
        await b.join()
        await eventually(lambda: a.sees(130) and b.sees(60), timeout=20)
        await room.router.leave(ROOM, b.member)
        assert room.router.link(ROOM, b.member) is None
        _, forwards = room.router.stats(ROOM)
        assert forwards == []
    gc.collect()
    await eventually(lambda: _tasks() <= tasks and open_sockets() <= sockets, timeout=5)
