"""A real WebRTC endpoint for tests: aiortc on loopback, driven through the signaling client.

aioice never gathers 127.0.0.1, so tests patch its host-address lookup (DESIGN.md §3); aiortc
does no local trickle, so the full SDP is sent after setLocalDescription. No STUN/TURN server:
``iceServers`` is always given, empty, so nothing leaves the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from unittest import mock

import aioice.ice
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)

from signaling import SessionDescription, Signal, SignalRelay
from tests.rooms.client import SignalingClient


@contextlib.contextmanager
def loopback_ice() -> Iterator[None]:
    with mock.patch.object(aioice.ice, "get_host_addresses", return_value=["127.0.0.1"]):
        yield


class MediaPeer:
    """One member's media: a camera-like track out, and the frames that arrive from others."""

    def __init__(self, client: SignalingClient) -> None:
        self.client = client
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc.addTrack(VideoStreamTrack())
        self.frames_received = 0
        self._tasks: list[asyncio.Task[None]] = []

        @self.pc.on("track")
        def on_track(track: MediaStreamTrack) -> None:
            if track.kind == "video":
                self._tasks.append(asyncio.create_task(self._count_frames(track)))

    async def _count_frames(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(Exception):
            while True:
                await track.recv()
                self.frames_received += 1

    async def offer_to(self, peer: str) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        local = self.pc.localDescription
        await self.client.send(
            Signal(to=peer, description=SessionDescription(type="offer", sdp=local.sdp))
        )

    async def answer_offer(self) -> None:
        relay = await self.client.expect(SignalRelay, timeout=10)
        assert relay.description is not None
        assert relay.description.type == "offer"
        await self.pc.setRemoteDescription(
            RTCSessionDescription(sdp=relay.description.sdp, type="offer")
        )
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        local = self.pc.localDescription
        await self.client.send(
            Signal(to=relay.from_, description=SessionDescription(type="answer", sdp=local.sdp))
        )

    async def accept_answer(self) -> None:
        relay = await self.client.expect(SignalRelay, timeout=10)
        assert relay.description is not None
        assert relay.description.type == "answer"
        await self.pc.setRemoteDescription(
            RTCSessionDescription(sdp=relay.description.sdp, type="answer")
        )

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await self.pc.close()
