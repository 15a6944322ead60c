"""Talk time in a routed session through the real server (issue 11): the `media` peer reads the
audio level of the packets it forwards (never decodes), and the session's record says who spoke
how much. The mentor talks (a tone), the trainee stays silent."""

from __future__ import annotations

import pytest
from aiortc import AudioStreamTrack, RTCSessionDescription

from server.infra.roles import Role
from signaling import MEDIA_PEER, SessionDescription, Signal
from tests.media.support import GreyVideo, ToneAudio, loopback_ice
from tests.rooms.client import signaling
from tests.rooms.test_routed_media import RoutedMember, routed_session
from tests.support import RunningServer, wait_for

pytestmark = pytest.mark.timeout(90)


class Speaker(RoutedMember):
    """A member whose microphone hears a tone (`speaks`) or silence."""

    speaks = False

    async def _answer(self, sdp: str) -> None:
        self.offers.append(sdp)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        senders = self.pc.getSenders()
        if self.luma is not None and senders and not senders[0].track:
            self.pc.addTrack(ToneAudio() if self.speaks else AudioStreamTrack())
            self.pc.addTrack(GreyVideo(self.luma))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        answer = SessionDescription(type="answer", sdp=self.pc.localDescription.sdp)
        await self.client.send(Signal(to=MEDIA_PEER, description=answer))


async def test_the_record_shows_who_spoke_and_who_did_not(server: RunningServer) -> None:
    mentor, ana = await server.user(Role.MENTOR), await server.user(Role.TRAINEE)
    session_id = await routed_session(server, mentor, [ana])
    mentor_http, ana_http = await server.signed_in(mentor), await server.signed_in(ana)
    pages: list[Speaker] = []
    try:
        with loopback_ice():
            async with (
                signaling(server, session_id, mentor_http) as mentor_socket,
                signaling(server, session_id, ana_http) as ana_socket,
            ):
                talker, silent = Speaker(mentor_socket, 60), Speaker(ana_socket, 180)
                talker.speaks = True
                pages += [talker, silent]
                for page in pages:
                    await page.join()

                async def both_hear() -> bool:
                    # ~2 s of the mentor's audio reached Ana (20 ms frames), and video flows.
                    return silent.audio_frames >= 100 and talker.sees(180) and silent.sees(60)

                await wait_for(both_hear, timeout=30)
                ended = await mentor_http.post(f"/api/sessions/{session_id}/end")
                assert ended.status_code == 200, ended.text

                async def talk_time() -> list[dict[str, object]]:
                    record = await ana_http.get(f"/api/sessions/{session_id}/record")
                    assert record.status_code == 200, record.text
                    found: list[dict[str, object]] = record.json()["talk_time"]
                    return found

                async def stored() -> bool:
                    return bool(await talk_time())

                # The room's last report is stored as its media ends.
                await wait_for(stored, timeout=10)
                first, second = await talk_time()
                assert (first["id"], first["name"]) == (mentor.id, mentor.name)
                assert isinstance(first["total_ms"], int)
                assert first["total_ms"] >= 1500
                assert first["share"] == 1.0
                assert first["minutes"] == [{"minute": 0, "ms": first["total_ms"]}]
                # Ana was there and never spoke: 0, and listed so the balance is plain.
                assert (second["id"], second["total_ms"], second["share"]) == (ana.id, 0, 0.0)
                assert second["minutes"] == []
    finally:
        for page in pages:
            await page.close()
        await mentor_http.aclose()
        await ana_http.aclose()
