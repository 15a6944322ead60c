"""H.264 recording (issue 12): a routed room on H.264 constrained baseline (what Safari sends)
is recorded per participant by copy-muxing into MPEG-TS, then finalized into an MP4 that plays
(PyAV decodes its H.264 and Opus, for the length that was recorded), served with Range."""

from __future__ import annotations

import io
from unittest import mock

import av
import pytest

from media import MediaConfig
from signaling import SessionId
from tests.api.test_recordings import _record_two
from tests.media import support as media_support
from tests.support import Scene

RECORD_S = 3.0


@pytest.mark.timeout(90)
async def test_an_h264_room_is_recorded_into_an_mp4_that_plays(scene: Scene) -> None:
    svc, http = scene.server.services, scene.mentor_http
    session = SessionId(scene.session_id)
    told: list[str] = []
    with mock.patch.object(media_support, "ROOM", session):
        h264 = MediaConfig(ice_timeout_s=5.0, video_codec="H264")
        await _record_two(svc, session, told, h264, RECORD_S)
    assert not told
    rows = await svc.store.recordings.for_session(session)
    assert sorted(r.peer for r in rows) == ["mentor", "trainee"]
    for row in rows:
        assert (row.state, row.codecs, row.container) == ("complete", ("h264", "opus"), "mp4")
        assert row.duration_s is not None
        assert row.duration_s >= RECORD_S - 0.5
        served = await http.get(f"/api/recordings/{row.id}/media")
        assert served.status_code == 200
        assert served.headers["content-type"] == "video/mp4"
        with av.open(io.BytesIO(served.content)) as played:
            kinds = {s.type: s.codec_context.name for s in played.streams}
            assert kinds == {"video": "h264", "audio": "opus"}
            frames = [f for f in played.decode(video=0)]
            assert frames
            shown_s = float(frames[-1].time - frames[0].time)
            assert shown_s >= RECORD_S - 0.5, shown_s
        tail = await http.get(f"/api/recordings/{row.id}/media", headers={"Range": "bytes=-1000"})
        assert tail.status_code == 206
        assert tail.content == served.content[-1000:]
