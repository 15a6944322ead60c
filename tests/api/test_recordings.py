"""Playing recordings back (issue 12): Range reads of the right bytes, bad ranges answered
clearly, a damaged file refused, each view audited once, a crash's recording recovered at
start-up, and deletion by retention or by an admin, audited."""

from __future__ import annotations

import asyncio
import errno
import io
import os
import time
from pathlib import Path
from unittest import mock

import av
import pytest

from media import MediaConfig
from media.recording import Keyring, Recorder, finalize
from server.infra.roles import Role
from server.services import Services
from signaling import RecordingState, SessionId
from tests.api.recording_support import stored_recording
from tests.media import support as media_support
from tests.media.rtp_source import Source
from tests.media.support import eventually, media_room
from tests.support import RunningServer, Scene


async def _audited(server: RunningServer, session_id: str, action: str) -> int:
    events = await server.services.store.audit.about(session_id, actions=(action,))
    return len(events)


async def test_a_player_seeks_with_range_requests(scene: Scene) -> None:
    server, http = scene.server, scene.mentor_http
    payload = os.urandom(300_000)  # several sealed chunks
    recording_id = await stored_recording(server.services, scene.session_id, payload)
    url = f"/api/recordings/{recording_id}/media"

    listed = (await http.get(f"/api/sessions/{scene.session_id}/recordings")).json()
    assert [(r["id"], r["state"], r["media_url"]) for r in listed] == [
        (recording_id, "complete", url)
    ]
    whole = await http.get(url)
    assert whole.status_code == 200
    assert whole.content == payload
    assert whole.headers["accept-ranges"] == "bytes"
    assert whole.headers["cache-control"] == "no-store"
    assert whole.headers["content-type"] == "video/webm"
    for asked, start, end in [
        ("bytes=0-1", 0, 2),
        ("bytes=65530-131080", 65530, 131081),
        ("bytes=299990-", 299990, 300000),
        ("bytes=-100", 299900, 300000),
        ("bytes=200000-999999", 200000, 300000),
    ]:
        part = await http.get(url, headers={"Range": asked})
        assert part.status_code == 206, asked
        assert part.content == payload[start:end], asked
        assert part.headers["content-range"] == f"bytes {start}-{end - 1}/300000"
    for bad in ["bytes=300000-", "bytes=abc", "bytes=0-1,5-6", "bytes=-", "bytes=9-3"]:
        refused = await http.get(url, headers={"Range": bad})
        assert refused.status_code == 416, bad
        assert refused.headers["content-range"] == "bytes */300000"
        assert refused.json()["message"]
    # The many requests of one playback are one audited view.
    assert await _audited(server, scene.session_id, "recording.viewed") == 1
    # Traversal in the id finds nothing: files are named from the record, never the URL.
    for sneaky in ["..%2F..%2Fmedia.key", "..", "%2e%2e%2fpreceptor.db"]:
        answer = await http.get(f"/api/recordings/{sneaky}/media")
        assert answer.status_code == 404, sneaky


async def test_a_recording_whose_file_changed_is_refused(scene: Scene) -> None:
    server = scene.server
    recording_id = await stored_recording(server.services, scene.session_id, b"x" * 1000)
    path = server.services.recordings.directory / f"{recording_id}.webm"
    stored = bytearray(path.read_bytes())
    stored[-20] ^= 1
    path.write_bytes(bytes(stored))
    answer = await scene.mentor_http.get(f"/api/recordings/{recording_id}/media")
    assert answer.status_code == 409
    assert answer.json()["error"] == "recording-damaged"


async def test_retention_and_an_admin_delete_recordings_and_say_so(scene: Scene) -> None:
    server, svc = scene.server, scene.server.services
    old = await stored_recording(svc, scene.session_id, b"old", started_at=1_000.0)
    kept = await stored_recording(svc, scene.session_id, b"new")
    assert await svc.recordings.purge() == 1
    assert await svc.store.recordings.get(old) is None
    assert not (svc.recordings.directory / f"{old}.webm").exists()
    admin = await server.signed_in(await server.user(Role.ADMIN))
    mentor_try = await scene.mentor_http.delete(f"/api/recordings/{kept}")
    assert mentor_try.status_code == 403
    assert (await admin.delete(f"/api/recordings/{kept}")).status_code == 204
    assert not (svc.recordings.directory / f"{kept}.webm").exists()
    events = await svc.store.audit.about(scene.session_id, actions=("recording.deleted",))
    assert sorted(e.detail["reason"] for e in events) == ["admin", "retention"]
    await admin.aclose()


class _Nothing:
    def request_keyframe(self) -> None:
        pass

    def close(self) -> None:
        pass


async def test_start_up_makes_a_crashed_recording_playable_and_incomplete(
    scene: Scene, tmp_path: Path
) -> None:
    svc = scene.server.services
    recording_id = "0" * 32
    await svc.store.recordings.begin(
        recording_id=recording_id, session_id=scene.session_id, peer="p", segment=1, now=1e9
    )
    recorder = Recorder(
        tmp_path / "running.live",
        svc.recordings.keyring,
        video_codec="VP8",
        kinds={"audio", "video"},
    )
    recorder.start(_Nothing())
    for sent in Source(4.0).packets():
        if sent.header is not None:
            recorder.rtp(sent.kind, sent.header)
    await eventually(lambda: recorder.recorded_s >= 3.8)
    # What a crash leaves on disk is what was written so far: copy it mid-recording.
    crashed = (tmp_path / "running.live").read_bytes()
    left = svc.recordings.directory / f"{recording_id}.live"
    left.write_bytes(crashed)
    await recorder.stop()
    # Written to a minute ago: no recorder is still at it.
    os.utime(left, (time.time() - 60, time.time() - 60))

    assert await svc.recordings.recover() == 1

    recording = await svc.store.recordings.get(recording_id)
    assert recording is not None
    assert recording.state == "incomplete"
    assert recording.duration_s is not None
    assert 2.5 <= recording.duration_s <= 4.0
    media = await scene.mentor_http.get(f"/api/recordings/{recording_id}/media")
    assert media.status_code == 200
    with av.open(io.BytesIO(media.content)) as container:
        assert [s.type for s in container.streams] == ["video", "audio"]
    assert await _audited(scene.server, scene.session_id, "recording.recovered") == 1


@pytest.mark.timeout(60)
async def test_a_consented_routed_room_is_recorded_per_participant(scene: Scene) -> None:
    """The media driver's call: recording goes active, then off; each publisher's file is
    finalized and its record complete, measured and hashed."""
    svc = scene.server.services
    session = SessionId(scene.session_id)
    told: list[str] = []
    # The media room is the session's own (the clients join the router under its id).
    with mock.patch.object(media_support, "ROOM", session):
        await _record_two(svc, session, told)
    rows = await svc.store.recordings.for_session(session)
    assert sorted(r.peer for r in rows) == ["mentor", "trainee"]
    for row in rows:
        assert row.state == "complete"
        assert row.duration_s is not None
        assert row.duration_s >= 2.5
        assert row.codecs == ("vp8", "opus")
        assert row.sha256 is not None
        assert await svc.recordings.verify(row)
    assert not told
    assert await _audited(scene.server, scene.session_id, "recording.started") == 1


async def _record_two(
    svc: Services,
    session: SessionId,
    told: list[str],
    config: MediaConfig | None = None,
    seconds: float = 3.0,
) -> None:
    """Mentor and trainee (aiortc) in the session's routed room, recorded for `seconds`."""
    async with media_room(config) as room:
        mentor = room.client("mentor", luma=60)
        trainee = room.client("trainee", luma=120)
        await mentor.join()
        await trainee.join()
        await eventually(lambda: mentor.sees(120) and trainee.sees(60), timeout=30)
        publishers = {mentor.member, trainee.member}
        svc.recordings.changed(session, RecordingState.ACTIVE, room.router, publishers, told.append)
        await eventually(lambda: _recorded(svc, session) >= seconds, timeout=30)
        svc.recordings.changed(session, RecordingState.OFF, room.router, publishers, told.append)
        await eventually(lambda: session not in svc.recordings._active, timeout=20)
        # The stop (finalizing both files) holds the session's lock until it is done.
        async with svc.recordings._locks[session]:
            pass


def _recorded(svc: Services, session: SessionId) -> float:
    active = svc.recordings._active.get(session)
    recorders = list(active.recorders.values()) if active else []
    return min((r.recorded_s for r in recorders), default=0.0) if len(recorders) == 2 else 0.0


async def test_a_full_disk_stops_the_recording_and_keeps_what_was_written(
    tmp_path: Path,
) -> None:
    keyring = Keyring([bytes(32)])
    told: list[str] = []
    recorder = Recorder(
        tmp_path / "full.live",
        keyring,
        video_codec="VP8",
        kinds={"audio", "video"},
        on_problem=told.append,
    )
    recorder.start(_Nothing())
    real_pwrite = os.pwrite
    budget = {"bytes": 60_000}

    def filling(fd: int, data: bytes, offset: int) -> int:
        if offset + len(data) > budget["bytes"]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_pwrite(fd, data, offset)

    with mock.patch("media.recording.sealed.os.pwrite", filling):
        for sent in Source(8.0).packets():
            if sent.header is not None:
                recorder.rtp(sent.kind, sent.header)
        outcome = await recorder.stop()
    assert outcome.problem == (
        "The recording stopped: the server could not write it (No space left on device)."
    )
    await eventually(lambda: told == [outcome.problem])  # the mentor is told
    finished = await asyncio.to_thread(
        finalize, tmp_path / "full.live", tmp_path / "f.webm", keyring
    )
    assert 0.5 <= finished.duration_s < 8.0  # what fitted is playable
