"""Speaking time from the audio-level header extension (RFC 6464), without decoding (issue 11)."""

from __future__ import annotations

import time

import pytest

from media import MediaConfig
from media.speaking import MINUTE_MS, SpeakingTally, SpeechMinute, VoiceMeter, audio_level
from signaling.ids import PeerId
from tests.media.support import ROOM, eventually, media_room

A, B = PeerId("a"), PeerId("b")
LOUD, QUIET = 20, 110  # -dBov


def test_the_level_is_the_low_seven_bits_and_the_v_bit_is_ignored() -> None:
    assert audio_level(bytes([0x80 | 30])) == 30
    assert audio_level(bytes([127])) == 127
    assert audio_level(b"") is None
    assert audio_level(None) is None


def test_a_loud_packet_counts_as_long_as_its_timestamp_advanced() -> None:
    meter = VoiceMeter(threshold=50)
    assert meter.speech_ms(1000, LOUD) == 20  # the first packet: an ordinary 20 ms
    assert meter.speech_ms(1000 + 960, LOUD) == 20
    assert meter.speech_ms(1000 + 960 + 1920, LOUD) == 40  # a 40 ms packet
    assert meter.speech_ms(1000 + 2 * 960 + 1920, QUIET) == 0
    assert meter.speech_ms(1000 + 3 * 960 + 1920, None) == 0  # no level, no speech
    assert meter.speech_ms(1000 + 4 * 960 + 1920, 50) == 20  # at the threshold: speech


def test_gaps_duplicates_late_packets_and_wrapping_are_not_overcounted() -> None:
    meter = VoiceMeter()
    meter.speech_ms(0xFFFFFF00, LOUD)
    assert meter.speech_ms((0xFFFFFF00 + 960) & 0xFFFFFFFF, LOUD) == 20  # across the wrap
    now = (0xFFFFFF00 + 960) & 0xFFFFFFFF
    assert meter.speech_ms(now, LOUD) == 0  # a duplicate
    assert meter.speech_ms((now - 960) & 0xFFFFFFFF, LOUD) == 0  # late: already counted
    # Ten silent seconds not sent (DTX), then speech: one packet's worth, not ten seconds.
    assert meter.speech_ms((now + 48_000 * 10) & 0xFFFFFFFF, LOUD) == 20


def test_the_tally_adds_up_per_member_and_minute_of_the_session() -> None:
    tally = SpeakingTally(origin=1000.0)
    assert not tally
    tally.add(A, 1000.0 + 59.9, 20)
    tally.add(A, 1000.0 + 60.0, 20)
    tally.add(A, 1000.0 + 61.0, 40)
    tally.add(B, 1000.0 + 61.0, 20)
    tally.add(B, 1000.0 + 62.0, 0)  # silence adds no cell
    tally.add(B, 990.0, 20)  # before the start (clocks differ by a little): minute 0
    assert tally
    assert tally.drain() == (
        SpeechMinute(A, 0, 20),
        SpeechMinute(A, 1, 60),
        SpeechMinute(B, 0, 20),
        SpeechMinute(B, 1, 20),
    )
    assert tally.drain() == ()  # drained: each report says what is new


def test_the_tally_is_bounded_and_no_minute_holds_more_than_a_minute() -> None:
    tally = SpeakingTally(origin=0.0, max_entries=2)
    for _ in range(4000):
        tally.add(A, 1.0, 20)
    tally.add(B, 1.0, 20)
    tally.add(A, 200.0, 20)  # a third cell: refused, counted
    assert tally.dropped == 1
    assert tally.drain() == (SpeechMinute(A, 0, MINUTE_MS), SpeechMinute(B, 0, 20))


@pytest.mark.timeout(60)
async def test_the_router_reports_who_spoke_from_forwarded_packets() -> None:
    """One member talks (a tone), one is silent: the router hears it in the packets it
    forwards, reports it every flush interval and once more when the room ends."""
    config = MediaConfig(ice_timeout_s=5.0, speaking_flush_s=1.0, rtcp_interval_s=0.2)
    async with media_room(config) as room:
        started = time.time()
        room.router.set_origin(ROOM, started - 125)  # the session began two minutes ago
        talker = room.client("a", luma=60, speaks=True)
        quiet = room.client("b", luma=120)
        await talker.join()
        await quiet.join()
        await eventually(lambda: talker.sees(120) and quiet.sees(60), timeout=20)

        def spoken(member: PeerId) -> int:
            return sum(m.ms for e in room.spoken for m in e.minutes if m.member == member)

        await eventually(lambda: spoken(A) >= 1000, timeout=10)  # a second of speech reported
        assert len(room.spoken) >= 1
        # The audio-level extension was negotiated (aiortc offers and answers it, as browsers do).
        assert "urn:ietf:params:rtp-hdrext:ssrc-audio-level" in talker.pc.localDescription.sdp
        await room.router.end(ROOM)
        elapsed_ms = (time.time() - started) * 1000
        assert spoken(A) <= elapsed_ms  # no more speech than time went by
        assert spoken(B) == 0
        assert all(e.room_id == ROOM for e in room.spoken)
        assert {m.minute for e in room.spoken for m in e.minutes} <= {2, 3}
