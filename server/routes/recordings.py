"""Recordings of a session (issue 12): the list on the record page, playback with HTTP Range
(RFC 9110 §14) so players seek, and an admin's early deletion. Each view is audited."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

import msgspec
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from server.access.policy import Action
from server.access.principal import Principal
from server.http.endpoints import Endpoint
from server.http.errors import ApiError, json_response
from server.http.resources import recording_for, session_for
from server.infra.storage import Recording
from server.services import services

__all__ = ["endpoints"]

_PIECE = 256 * 1024  # bytes read (and decrypted) per step of a response
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
_MEDIA_TYPES = {"webm": "video/webm", "mp4": "video/mp4"}
_PLAYABLE = ("complete", "incomplete")


class RecordingOut(msgspec.Struct, frozen=True):
    id: str
    peer: str
    segment: int
    state: str  # complete | incomplete (cut short by a crash) | recording | failed
    started_at: float
    offset_ms: int  # where the recording starts on the session's timeline (marks' at_ms)
    duration_s: float | None
    size_bytes: int | None
    codecs: tuple[str, ...]
    media_url: str | None


def _out(recording: Recording, session_started_at: float | None) -> RecordingOut:
    started = session_started_at or recording.started_at
    # The file's zero is its first keyframe, not the moment recording was asked for (issue 12).
    media_started = recording.media_started_at or recording.started_at
    playable = recording.state in _PLAYABLE
    return RecordingOut(
        id=recording.id,
        peer=recording.peer,
        segment=recording.segment,
        state=recording.state,
        started_at=recording.started_at,
        offset_ms=max(0, round((media_started - started) * 1000)),
        duration_s=recording.duration_s,
        size_bytes=recording.size_bytes,
        codecs=recording.codecs,
        media_url=f"/api/recordings/{recording.id}/media" if playable else None,
    )


async def list_recordings(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    session = await session_for(request, principal, Action.RECORD_VIEW)
    recordings = await svc.store.recordings.for_session(session.id)
    return json_response([_out(r, session.started_at) for r in recordings])


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The one range a request asks for, as [start, end); None for the whole file."""
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None or match.group(1) == match.group(2) == "":
        raise ApiError(
            416,
            "bad-range",
            "The Range header is not one byte range (bytes=start-end). Ask for one range.",
            {"Content-Range": f"bytes */{size}"},
        )
    first, last = match.group(1), match.group(2)
    if first == "":  # the last N bytes
        start, end = max(0, size - int(last)), size
    else:
        start = int(first)
        end = size if last == "" else min(int(last) + 1, size)
    if start >= size or end <= start:
        raise ApiError(
            416,
            "range-not-satisfiable",
            f"The recording has {size} bytes; ask for a range inside it.",
            {"Content-Range": f"bytes */{size}"},
        )
    return start, end


async def recording_media(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    recording, session = await recording_for(request, principal, Action.RECORD_VIEW)
    if recording.state not in _PLAYABLE or recording.size_bytes is None:
        raise ApiError(409, "not-ready", "This recording is not finished yet. Try again later.")
    if not await svc.recordings.verify(recording):
        raise ApiError(
            409,
            "recording-damaged",
            "This recording's file does not match what was recorded. Ask an admin to check it.",
        )
    size = recording.size_bytes
    wanted = _byte_range(request.headers.get("range"), size)
    start, end = wanted or (0, size)
    if svc.recordings.first_view(principal.id, recording.id, time.time()):
        await svc.store.audit.append(
            "recording.viewed",
            actor_id=principal.id,
            target=session.id,
            detail={"recording": recording.id},
        )
    reader = await asyncio.to_thread(svc.recordings.open, recording)

    async def body() -> AsyncIterator[bytes]:
        try:
            position = start
            while position < end:
                piece = await asyncio.to_thread(
                    reader.read_range, position, min(position + _PIECE, end)
                )
                if not piece:
                    break
                position += len(piece)
                yield piece
        finally:
            await asyncio.to_thread(reader.close)

    headers = {
        "Accept-Ranges": "bytes",
        "Content-Length": str(end - start),
        "Cache-Control": "no-store",
    }
    if wanted is not None:
        headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    return StreamingResponse(
        body(),
        status_code=206 if wanted is not None else 200,
        headers=headers,
        media_type=_MEDIA_TYPES.get(recording.container or "webm", "video/webm"),
    )


async def delete_recording(request: Request, principal: Principal | None) -> Response:
    assert principal is not None
    svc = services(request)
    recording, _ = await recording_for(request, principal, Action.RECORDING_DELETE)
    if recording.state == "recording":
        raise ApiError(409, "recording", "This recording is still running. Stop it first.")
    await svc.recordings.delete(recording, actor_id=principal.id, reason="admin")
    return Response(status_code=204)


endpoints = [
    Endpoint(
        "GET",
        "/api/sessions/{session_id}/recordings",
        "The session's recordings, each with where it starts on the session's timeline.",
        "record",
        list_recordings,
        response=list[RecordingOut],
    ),
    Endpoint(
        "GET",
        "/api/recordings/{recording_id}/media",
        "Play a recording (HTTP Range for seeking; each view is audited).",
        "record",
        recording_media,
        response_media_type="video/webm",
    ),
    Endpoint(
        "DELETE",
        "/api/recordings/{recording_id}",
        "Delete a recording before its retention period ends (an admin).",
        "record",
        delete_recording,
        status=204,
    ),
]
