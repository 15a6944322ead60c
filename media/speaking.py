"""Speaking time from the audio-level header extension, never from decoded audio (issue 11).

Every audio packet a browser or aiortc sends carries its level (RFC 6464: `ssrc-audio-level`,
one byte: the V bit, then the level in -dBov, 0 = loudest, 127 = silence). A member speaks in a
packet whose level is at or above the threshold; the packet lasts as long as its RTP timestamp
advanced. The tally adds that up per member and per minute of the session (the minute counted
from the session's start, as marks count their offsets). Pure: the caller gives the times.
"""

from __future__ import annotations

from dataclasses import dataclass

from signaling.ids import PeerId

SPEECH_LEVEL = 50
"""-dBov at or below which a packet counts as speech: a voice at a phone sits at ~20-40, a quiet
room at 60 or more (aiortc sends 127 for digital silence)."""
MAX_PACKET_MS = 120
"""Opus packets last 2.5-120 ms; a longer jump of the timestamp is a gap (DTX, loss), counted
as one ordinary packet."""
USUAL_PACKET_MS = 20
MAX_ENTRIES = 4096
"""(member, minute) cells held between flushes: a flush every few seconds needs a handful."""
MINUTE_MS = 60_000


def audio_level(value: bytes | None) -> int | None:
    """The level (-dBov, 0-127) of an `ssrc-audio-level` element, or None if there is none.

    The V bit is not used: aiortc never sets it and a browser may send it "off" (RFC 6464 §4),
    so the level alone decides.
    """
    if not value:
        return None
    return value[0] & 0x7F


class VoiceMeter:
    """One published audio track: how much of each packet was speech, in milliseconds."""

    __slots__ = ("_last", "_per_ms", "threshold")

    def __init__(self, *, clock_rate: int = 48_000, threshold: int = SPEECH_LEVEL) -> None:
        self._per_ms = max(clock_rate // 1000, 1)
        self._last: int | None = None
        self.threshold = threshold

    def speech_ms(self, timestamp: int, level: int | None) -> int:
        last, self._last = self._last, timestamp
        if last is None:
            duration = USUAL_PACKET_MS
        else:
            step = (timestamp - last) & 0xFFFFFFFF
            if step == 0 or step >= 1 << 31:
                # A duplicate or a late packet: its time was counted when the stream moved on.
                self._last = last
                return 0
            duration = step // self._per_ms
            if duration > MAX_PACKET_MS:
                duration = USUAL_PACKET_MS
        if level is None or level > self.threshold:
            return 0
        return duration


@dataclass(frozen=True)
class SpeechMinute:
    """`ms` more milliseconds of `member`'s speech in minute `minute` of the session."""

    member: PeerId
    minute: int
    ms: int


class SpeakingTally:
    """Speech per member and minute since the last `drain`, for one room."""

    def __init__(self, origin: float, *, max_entries: int = MAX_ENTRIES) -> None:
        self.origin = origin  # wall-clock seconds at the session's start
        self._cells: dict[tuple[PeerId, int], int] = {}
        self._max = max_entries
        self.dropped = 0

    def add(self, member: PeerId, now: float, ms: int) -> None:
        if ms <= 0:
            return
        minute = max(0, int((now - self.origin) // 60))
        key = (member, minute)
        held = self._cells.get(key)
        if held is None and len(self._cells) >= self._max:
            self.dropped += 1
            return
        self._cells[key] = min(MINUTE_MS, (held or 0) + ms)

    def drain(self) -> tuple[SpeechMinute, ...]:
        cells, self._cells = self._cells, {}
        return tuple(SpeechMinute(m, minute, ms) for (m, minute), ms in sorted(cells.items()))

    def __bool__(self) -> bool:
        return bool(self._cells)
