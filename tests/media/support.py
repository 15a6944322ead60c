"""aiortc clients of the media router on loopback (DESIGN.md §3 "Testing on loopback").

Every client is a real aiortc peer with `iceServers=[]`, talking to the router in the same event
loop; aioice's host lookup is patched to 127.0.0.1, so no packet leaves the machine. Clients decode
what they receive (the server must not): each publisher paints its video one grey level, so a
viewer can tell whose picture it decoded.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import struct
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from unittest import mock

import aioice.ice
from aiortc import (
    AudioStreamTrack,
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
    VideoStreamTrack,
)
from av import AudioFrame, VideoFrame

from media import MediaConfig, MediaEvent, MediaFailure, MediaOffer, MediaRouter, SpeakingTime
from signaling.ids import PeerId, SessionId

ROOM = SessionId("room-1")
WIDTH, HEIGHT = 320, 240


@contextlib.contextmanager
def loopback_ice() -> Iterator[None]:
    with mock.patch.object(aioice.ice, "get_host_addresses", return_value=["127.0.0.1"]):
        yield


class GreyVideo(VideoStreamTrack):
    """A camera that films one grey level (its publisher's signature), 30 fps."""

    def __init__(self, luma: int) -> None:
        super().__init__()
        self.luma = luma

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=WIDTH, height=HEIGHT)
        frame.planes[0].update(bytes([self.luma]) * frame.planes[0].buffer_size)
        for plane in frame.planes[1:]:
            plane.update(bytes([128]) * plane.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        return frame


class ToneAudio(AudioStreamTrack):
    """A microphone hearing a steady 440 Hz tone at about -13 dBov: someone speaking, as far as
    the audio-level header extension tells (aiortc computes the level of what it encodes)."""

    _TONE = b"".join(
        struct.pack("<h", round(9000 * math.sin(2 * math.pi * 440 * n / 8000))) for n in range(160)
    )

    async def recv(self) -> AudioFrame:
        frame = await super().recv()
        assert isinstance(frame, AudioFrame)
        frame.planes[0].update(self._TONE[: frame.planes[0].buffer_size])
        return frame


def luma_of(frame: VideoFrame) -> int:
    plane = frame.planes[0]
    middle = plane.line_size * (frame.height // 2) + frame.width // 2
    return int(bytes(plane)[middle])


class Client:
    """One member: joins, answers every media offer, counts decoded frames per remote track."""

    def __init__(
        self,
        router: MediaRouter,
        member: str,
        *,
        luma: int | None,
        speaks: bool = False,
        codecs: tuple[str, ...] = (),
    ) -> None:
        self.router = router
        self.member = PeerId(member)
        self.luma = luma
        self.speaks = speaks
        self.codecs = codecs  # the video codecs this member's browser takes, in its order
        # max-bundle, as browsers do: with aiortc's default ("balanced") a second m-line of a kind
        # in an offer stays on a transport that BUNDLE then discards, and receives nothing.
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.events: asyncio.Queue[MediaEvent] = asyncio.Queue()
        self.failures: list[MediaFailure] = []
        self.video_lumas: Counter[int] = Counter()  # publisher signature -> frames decoded
        self.audio_frames: Counter[str] = Counter()  # track id -> frames decoded
        self.first_frame_at: dict[int, float] = {}
        self.joined_at = 0.0
        self._tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._tasks.append(asyncio.create_task(self._read(track)))

    async def _read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(Exception):
            while True:
                frame = await track.recv()
                if track.kind == "audio":
                    self.audio_frames[track.id] += 1
                    continue
                luma = round(luma_of(frame) / 10) * 10
                self.first_frame_at.setdefault(luma, time.monotonic())
                self.video_lumas[luma] += 1

    async def join(self, *, answer: bool = True) -> str:
        self.joined_at = time.monotonic()
        offer = await self.router.join(ROOM, self.member)
        self._tasks.append(asyncio.create_task(self._follow()))
        if answer:
            await self.answer(offer)
        return offer

    async def make_answer(self, offer: str) -> str:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        if self.codecs:
            known = RTCRtpSender.getCapabilities("video").codecs
            wanted = [c for name in (*self.codecs, "rtx") for c in known if c.name == name]
            for transceiver in self.pc.getTransceivers():
                if transceiver.kind == "video":
                    transceiver.setCodecPreferences(wanted)
        if self.luma is not None and not self.pc.getSenders()[0].track:
            self.pc.addTrack(ToneAudio() if self.speaks else AudioStreamTrack())
            self.pc.addTrack(GreyVideo(self.luma))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return str(self.pc.localDescription.sdp)

    async def answer(self, offer: str) -> None:
        await self.router.answer(ROOM, self.member, await self.make_answer(offer))

    async def _follow(self) -> None:
        while True:
            event = await self.events.get()
            if isinstance(event, MediaOffer):
                await self.answer(event.sdp)
            else:
                self.failures.append(event)

    def sees(self, *lumas: int, frames: int = 5) -> bool:
        return all(self.video_lumas[luma] >= frames for luma in lumas)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pc.close()


class Room:
    """A router and its clients, events routed to the member they address."""

    def __init__(self, config: MediaConfig) -> None:
        self.router = MediaRouter(config, self._on_event)
        self.clients: dict[PeerId, Client] = {}
        self.spoken: list[SpeakingTime] = []
        self.offers: list[str] = []  # every renegotiation offer media made

    def _on_event(self, event: MediaEvent) -> None:
        if isinstance(event, SpeakingTime):
            self.spoken.append(event)
            return
        if isinstance(event, MediaOffer):
            self.offers.append(event.sdp)
        client = self.clients.get(event.member_id)
        if client is not None:
            client.events.put_nowait(event)

    def client(
        self,
        member: str,
        *,
        luma: int | None,
        speaks: bool = False,
        codecs: tuple[str, ...] = (),
    ) -> Client:
        made = Client(self.router, member, luma=luma, speaks=speaks, codecs=codecs)
        self.clients[made.member] = made
        return made

    async def close(self) -> None:
        for client in self.clients.values():
            await client.close()
        await self.router.close()


@contextlib.asynccontextmanager
async def media_room(config: MediaConfig | None = None) -> AsyncIterator[Room]:
    with loopback_ice():
        room = Room(config or MediaConfig(ice_timeout_s=5.0))
        try:
            yield room
        finally:
            await room.close()


def open_sockets() -> int:
    """UDP sockets this process holds (aioice opens one per local candidate). Only UDP: the
    process's TCP sockets (earlier tests' clients and servers, closing in their own time)
    would make a count taken before and after a room unrelated to the room."""
    udp: set[str] = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with contextlib.suppress(OSError), open(table) as rows:
            next(rows, None)  # the header
            udp |= {row.split()[9] for row in rows}
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/self/fd/{fd}")
            if target.startswith("socket:[") and target[8:-1] in udp:
                count += 1
    return count


async def eventually(condition: object, *, timeout: float = 10.0) -> None:
    """Wait for `condition()` to hold, polling; fail after `timeout` seconds."""
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.02)
