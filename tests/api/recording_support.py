"""A finished recording put straight into a running server's store and data dir; a member who
records through the real signaling socket and the server's `media` peer."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import time
import uuid

from aiortc import (
    AudioStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from websockets.exceptions import ConnectionClosed

from media.recording import SealedWriter
from server.services import Services
from signaling import (
    MEDIA_PEER,
    ErrorMessage,
    Join,
    RecordingState,
    RecordingStatus,
    ServerMessage,
    SessionDescription,
    Signal,
    SignalRelay,
    Welcome,
    parse_server_message,
)
from tests.media.support import GreyVideo
from tests.rooms.client import SignalingClient
from tests.support import wait_for


async def stored_recording(
    services: Services, session_id: str, payload: bytes, *, started_at: float | None = None
) -> str:
    recording_id = uuid.uuid4().hex
    recordings = services.recordings
    await services.store.recordings.begin(
        recording_id=recording_id,
        session_id=session_id,
        peer="mentor-peer",
        segment=1,
        now=time.time() if started_at is None else started_at,
    )

    def write() -> None:
        recordings.directory.mkdir(parents=True, exist_ok=True)
        writer = SealedWriter(recordings.directory / f"{recording_id}.webm", recordings.keyring)
        writer.write(payload)
        writer.close()

    await asyncio.to_thread(write)
    await services.store.recordings.finish(
        recording_id,
        state="complete",
        duration_s=1.0,
        size_bytes=len(payload),
        codecs=("vp8", "opus"),
        container="webm",
        sha256=hashlib.sha256(payload).hexdigest(),
    )
    return recording_id


class RecordingMember:
    """One member's page as aiortc over the real signaling socket: answers each offer of
    `media` (after a `media-mode` switch too), publishes a grey camera and a microphone, and
    keeps every message it heard. Direct-mode offers between members are never made: the
    tests here are about what reaches the server."""

    def __init__(self, client: SignalingClient, luma: int) -> None:
        self.client = client
        self.camera = GreyVideo(luma)
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.messages: list[ServerMessage] = []
        self.welcome: Welcome | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def join(self) -> Welcome:
        await self.client.send(Join())
        self._tasks.append(asyncio.create_task(self._read()))
        await wait_for(self._welcomed, timeout=10)
        assert self.welcome is not None
        return self.welcome

    async def _welcomed(self) -> bool:
        return self.welcome is not None

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                message = parse_server_message(await self.client.ws.recv())
                self.messages.append(message)
                if isinstance(message, Welcome):
                    self.welcome = message
                elif isinstance(message, SignalRelay) and message.description is not None:
                    assert message.from_ == MEDIA_PEER  # members never offer to each other here
                    await self._answer(message.description.sdp)

    async def _answer(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        senders = self.pc.getSenders()
        if senders and not senders[0].track:
            self.pc.addTrack(AudioStreamTrack())
            self.pc.addTrack(self.camera)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        answer = SessionDescription(type="answer", sdp=self.pc.localDescription.sdp)
        await self.client.send(Signal(to=MEDIA_PEER, description=answer))

    def statuses(self) -> list[RecordingState]:
        return [m.state for m in self.messages if isinstance(m, RecordingStatus)]

    def state(self) -> RecordingState:
        assert self.welcome is not None
        return ([self.welcome.recording.state, *self.statuses()])[-1]

    def errors(self) -> list[ErrorMessage]:
        return [m for m in self.messages if isinstance(m, ErrorMessage)]

    def heard(self, kind: type[object]) -> bool:
        return any(isinstance(m, kind) for m in self.messages)

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pc.close()
