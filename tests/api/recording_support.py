"""A finished recording put straight into a running server's store and data dir."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid

from media.recording import SealedWriter
from server.services import Services


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
