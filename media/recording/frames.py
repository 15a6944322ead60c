"""RTP packets into whole coded frames on one timeline — depayloading, never decoding.

aiortc's jitter buffer puts packets back in order and cuts frames at timestamp changes; its
depayloaders strip the VP8 payload descriptor (RFC 7741) or undo H.264 fragmentation (RFC 6184).
A frame whose start was lost, or that follows a loss, is dropped until the next keyframe, so the
file never holds a picture a player cannot decode.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiortc.codecs.h264 import H264PayloadDescriptor
from aiortc.codecs.vpx import VpxPayloadDescriptor
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtp import RtpPacket

__all__ = ["CLOCK_RATES", "Frame", "FrameAssembler", "Timeline", "vp8_size"]

CLOCK_RATES = {"audio": 48_000, "video": 90_000}
_NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900 (NTP) to 1970 (Unix)


@dataclass(frozen=True, slots=True)
class Frame:
    kind: str
    data: bytes
    timestamp: int  # RTP timestamp, unwrapped to 64 bits
    keyframe: bool


def vp8_size(frame: bytes) -> tuple[int, int] | None:
    """Width and height from a VP8 keyframe header (RFC 6386 §9.1), or None."""
    if len(frame) < 10 or frame[0] & 1 or frame[3:6] != b"\x9d\x01\x2a":
        return None
    return int.from_bytes(frame[6:8], "little") & 0x3FFF, int.from_bytes(
        frame[8:10], "little"
    ) & 0x3FFF


def _h264_keyframe(annex_b: bytes) -> bool:
    # An IDR slice (type 5) or a sequence parameter set (7) that a keyframe starts with.
    return any(
        annex_b[i + 4] & 0x1F in (5, 7)
        for i in range(len(annex_b) - 4)
        if annex_b[i : i + 4] == b"\x00\x00\x00\x01"
    )


class FrameAssembler:
    """One track's packets in, its whole frames out."""

    def __init__(self, kind: str, codec: str) -> None:
        self.kind, self.codec = kind, codec.upper()
        video = kind == "video"
        self._buffer = JitterBuffer(capacity=128 if video else 16, is_video=video)
        self._starts: set[int] = set()  # RTP timestamps whose first packet arrived
        self._cycles = 0
        self._last: int | None = None
        self.needs_keyframe = video

    def add(self, sequence: int, timestamp: int, payload: bytes) -> Frame | None:
        """One packet; returns the frame it completed, if any. `needs_keyframe` turns true when a
        loss means the publisher must be asked for one."""
        packet = RtpPacket(sequence_number=sequence, timestamp=timestamp)
        try:
            packet._data = self._depayload(payload, timestamp)  # type: ignore[attr-defined]
        except (ValueError, IndexError):
            return None  # a payload that does not parse is a lost packet
        lost, jitter_frame = self._buffer.add(packet)
        if lost:
            self.needs_keyframe = True
        if jitter_frame is None:
            return None
        started = jitter_frame.timestamp in self._starts
        self._starts.discard(jitter_frame.timestamp)
        if len(self._starts) > 64:  # starts of frames the buffer gave up on
            self._starts.clear()
        data = jitter_frame.data
        keyframe = self.kind == "audio" or self._keyframe(data)
        if self.kind == "video" and (not started or (self.needs_keyframe and not keyframe)):
            self.needs_keyframe = True
            return None
        if keyframe and self.kind == "video":
            self.needs_keyframe = False
        return Frame(self.kind, data, self._unwrap(jitter_frame.timestamp), keyframe)

    def _depayload(self, payload: bytes, timestamp: int) -> bytes:
        if self.kind == "audio":
            self._starts.add(timestamp)
            return payload
        if self.codec == "H264":
            descriptor, data = H264PayloadDescriptor.parse(payload)
            if descriptor.first_fragment:
                self._starts.add(timestamp)
            return data
        vp8, data = VpxPayloadDescriptor.parse(payload)
        if vp8.partition_start and vp8.partition_id == 0:
            self._starts.add(timestamp)
        return data

    def _keyframe(self, data: bytes) -> bool:
        if self.codec == "H264":
            return _h264_keyframe(data)
        return bool(data) and not data[0] & 1

    def _unwrap(self, timestamp: int) -> int:
        if self._last is not None:
            if timestamp < self._last and self._last - timestamp > 1 << 31:
                self._cycles += 1 << 32
            elif timestamp > self._last and timestamp - self._last > 1 << 31:
                return self._cycles - (1 << 32) + timestamp  # a late frame from before a wrap
        self._last = timestamp
        return self._cycles + timestamp


class Timeline:
    """Seconds since the recording's first frame, for both tracks of one publisher.

    Each track is placed by the arrival time of its first frame; once both tracks have an RTCP
    sender report (RFC 3550 §6.4.1: one NTP clock for all of a sender's streams), audio is
    placed against video through the reports, which is what keeps lips in sync.
    """

    def __init__(self) -> None:
        self._arrival: dict[str, tuple[int, float]] = {}  # kind -> (RTP ts, arrival s)
        self._report: dict[str, tuple[int, float]] = {}  # kind -> (RTP ts, NTP s)
        self._origin: float | None = None

    def sender_report(self, kind: str, ntp_timestamp: int, rtp_timestamp: int) -> None:
        if kind not in self._report:
            seconds = (ntp_timestamp >> 32) + (ntp_timestamp & 0xFFFFFFFF) / 2**32
            self._report[kind] = (rtp_timestamp, seconds - _NTP_EPOCH_OFFSET)

    def seconds(self, frame: Frame, arrival: float) -> float:
        """Where `frame` sits on the common clock (arrival-based, in seconds)."""
        rate = CLOCK_RATES[frame.kind]
        anchor = self._arrival.setdefault(frame.kind, (frame.timestamp, arrival))
        at = anchor[1] + (frame.timestamp - anchor[0]) / rate
        other = "video" if frame.kind == "audio" else "audio"
        if (
            frame.kind == "audio"
            and other in self._arrival
            and {"audio", "video"} <= set(self._report)
        ):
            video_at, video_ntp = self._at_report("video", self._arrival["video"][0])
            audio_ntp = self._at_report("audio", frame.timestamp)[1]
            at = video_at + (audio_ntp - video_ntp)
        return at

    def _at_report(self, kind: str, timestamp: int) -> tuple[float, float]:
        rtp, ntp = self._report[kind]
        delta = ((timestamp - rtp + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)
        return self._arrival[kind][1], ntp + delta / CLOCK_RATES[kind]

    def restart(self, kind: str) -> None:
        """A new source for `kind`: place it by arrival again (its old report no longer holds)."""
        self._arrival.pop(kind, None)
        self._report.pop(kind, None)

    def start(self, at: float) -> None:
        self._origin = at

    def relative(self, at: float) -> float | None:
        return None if self._origin is None else at - self._origin
