"""RTP packets into whole coded frames on one timeline — depayloading, never decoding.

Packets are put back in order and cut into frames at timestamp changes, as aiortc's jitter
buffer does, but in a constant time per packet (aiortc's rescans every packet it holds and
needs an `RtpPacket` and a descriptor object per packet: it was half the recorder's CPU). The
VP8 payload descriptor (RFC 7741 §4.2) is read in place; H.264 fragmentation (RFC 6184) is undone
by aiortc's depayloader. A frame whose start was lost, or that follows a loss, is dropped until
the next keyframe, so the file never holds a picture a player cannot decode.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from aiortc.codecs.h264 import H264PayloadDescriptor

__all__ = ["CLOCK_RATES", "Frame", "FrameAssembler", "Timeline", "vp8_size"]

CLOCK_RATES = {"audio": 48_000, "video": 90_000}
_NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900 (NTP) to 1970 (Unix)
# The frames that judge how late a track's first frame arrived: its first seconds only, since
# later the sender's clock drifting from ours (~50 ppm) would pass for lateness.
_PROMPTEST_WITHIN_S = 10.0
_MAX_MISORDER = 100  # a packet this far behind is a sender that restarted its numbering
_START_CODE = b"\x00\x00\x00\x01"


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
    # (Start codes cannot overlap, so each search resumes past the last one.)
    at = annex_b.find(_START_CODE)
    while 0 <= at < len(annex_b) - 4:
        if annex_b[at + 4] & 0x1F in (5, 7):
            return True
        at = annex_b.find(_START_CODE, at + 4)
    return False


def _vp8_depayload(payload: bytes) -> tuple[bytes, bool]:
    """The VP8 data after the payload descriptor (RFC 7741 §4.2), and whether it starts a
    frame (the start of partition 0). Raises on a descriptor cut short."""
    first = payload[0]
    size = 1
    if first & 0x80:  # X: extension bits follow
        extension = payload[1]
        size = 2
        if extension & 0x80:  # I: a picture ID, 7 or 15 bits
            size += 2 if payload[2] & 0x80 else 1
        if extension & 0x40:  # L: TL0PICIDX
            size += 1
        if extension & 0x30:  # T or K: one byte of TID, Y and KEYIDX
            size += 1
    if size > len(payload):
        raise ValueError("VP8 payload descriptor cut short")
    return payload[size:], bool(first & 0x10) and not first & 0x0F


_NONE: Sequence[Frame] = ()
# A frame still arriving in order may outgrow the window: a keyframe of a high-bitrate H.264
# camera runs to hundreds of packets (given up on, it and everything after it until the next
# keyframe were lost). Only a hole, waiting for a retransmission, is bounded by the window.
_MAX_FRAME_PACKETS = 2048  # ~2.4 MB
_IN_ORDER_SLACK = 16  # packets a growing frame's next one may arrive ahead of its place


class FrameAssembler:
    """One track's packets in, its whole frames out.

    Packets wait in `_waiting` until the run of consecutive ones from `_next` (the oldest not
    yet cut) reaches a packet with another timestamp: the run is one frame. `_run` remembers how
    much of the run is already known, so each packet costs a few dictionary look-ups. A packet
    more than `capacity` ahead of `_next` gives up on the oldest frames (a loss), as aiortc's
    buffer does.
    """

    def __init__(self, kind: str, codec: str) -> None:
        self.kind, self.codec = kind, codec.upper()
        self._video = kind == "video"
        self._capacity = 128 if self._video else 16
        # sequence -> (timestamp, depayloaded data, whether it starts a frame)
        self._waiting: dict[int, tuple[int, bytes, bool]] = {}
        self._next: int | None = None
        self._run = 0
        self._cycles = 0
        self._last: int | None = None
        self.needs_keyframe = self._video

    def add(self, sequence: int, timestamp: int, payload: bytes) -> Sequence[Frame]:
        """One packet; returns the frames it completed (usually none or one; more when it
        fills a gap). `needs_keyframe` turns true when a loss means the publisher must be asked
        for one."""
        try:
            data, starts = self._depayload(payload)
        except (ValueError, IndexError):
            return _NONE  # a payload that does not parse is a lost packet
        waiting = self._waiting
        if self._next is None:
            self._next = sequence
        ahead = (sequence - self._next) & 0xFFFF
        if ahead >= 0x8000:  # behind what was already cut
            if 0x10000 - ahead < _MAX_MISORDER:
                return _NONE  # too late: its frame was cut or given up on
            # Far behind: the sender restarted its numbering.
            waiting.clear()
            self._next, self._run = sequence, 0
            self._lost()
        elif ahead >= self._capacity and not (
            ahead < self._run + _IN_ORDER_SLACK and ahead < _MAX_FRAME_PACKETS
        ):
            self._give_up(ahead - self._capacity + 1, sequence)
            self._lost()
        if sequence in waiting:
            return _NONE  # a duplicate (a retransmission of what arrived)
        waiting[sequence] = (timestamp, data, starts)
        return self._cut()

    def _lost(self) -> None:
        if self._video:
            self.needs_keyframe = True

    def _give_up(self, count: int, sequence: int) -> None:
        """Drop the oldest `count` sequence numbers, then the rest of the frame they cut into."""
        waiting, at, cut_at = self._waiting, self._next, None
        assert at is not None
        for skipped in range(self._capacity):
            packet = waiting.get(at)
            if packet is not None:
                if skipped >= count and packet[0] != cut_at:
                    self._next, self._run = at, 0
                    return
                cut_at = packet[0]
                del waiting[at]
            at = (at + 1) & 0xFFFF
        # Everything held was older than the window: start again from this packet.
        waiting.clear()
        self._next, self._run = sequence, 0

    def _cut(self) -> Sequence[Frame]:
        waiting = self._waiting
        frames = _NONE
        while True:
            start = self._next
            assert start is not None
            head = waiting.get(start)
            if head is None:
                return frames
            timestamp = head[0]
            run = self._run or 1
            while True:
                packet = waiting.get((start + run) & 0xFFFF)
                if packet is None:
                    self._run = run
                    return frames
                if packet[0] != timestamp:
                    break
                run += 1
            parts = [waiting.pop((start + n) & 0xFFFF) for n in range(run)]
            self._next, self._run = (start + run) & 0xFFFF, 0
            frame = self._frame(timestamp, parts)
            if frame is not None:
                frames = [*frames, frame]

    def _frame(self, timestamp: int, parts: list[tuple[int, bytes, bool]]) -> Frame | None:
        data = parts[0][1] if len(parts) == 1 else b"".join(part[1] for part in parts)
        if not self._video:
            return Frame(self.kind, data, self._unwrap(timestamp), True)
        keyframe = self._keyframe(data)
        if not parts[0][2] or (self.needs_keyframe and not keyframe):
            self.needs_keyframe = True  # its start was lost, or it follows a loss
            return None
        if keyframe:
            self.needs_keyframe = False
        return Frame(self.kind, data, self._unwrap(timestamp), keyframe)

    def _depayload(self, payload: bytes) -> tuple[bytes, bool]:
        if not self._video:
            return payload, True
        if self.codec == "H264":
            descriptor, data = H264PayloadDescriptor.parse(payload)
            return data, bool(descriptor.first_fragment)
        return _vp8_depayload(payload)

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

    A first frame held up on its way (a busy loop, a queue) places the track late by as much;
    the frames after it tell by how much (`late_by`), so the wall clock of the file's zero can
    be corrected where the marks meet it.
    """

    def __init__(self) -> None:
        self._arrival: dict[str, tuple[int, float]] = {}  # kind -> (RTP ts, arrival s)
        self._report: dict[str, tuple[int, float]] = {}  # kind -> (RTP ts, NTP s)
        self._origin: float | None = None
        # kind -> the least of (arrival - media time since the anchor) over its frames: when
        # the anchor would have arrived had it been as prompt as the promptest frame.
        self._earliest: dict[str, float] = {}
        self._first_late_by: dict[str, float] = {}  # kind -> late_by of its first source
        self._past_window: set[str] = set()  # kinds with a frame past _PROMPTEST_WITHIN_S

    def sender_report(self, kind: str, ntp_timestamp: int, rtp_timestamp: int) -> None:
        if kind not in self._report:
            seconds = (ntp_timestamp >> 32) + (ntp_timestamp & 0xFFFFFFFF) / 2**32
            self._report[kind] = (rtp_timestamp, seconds - _NTP_EPOCH_OFFSET)

    def seconds(self, frame: Frame, arrival: float) -> float:
        """Where `frame` sits on the common clock (arrival-based, in seconds)."""
        rate = CLOCK_RATES[frame.kind]
        anchor = self._arrival.setdefault(frame.kind, (frame.timestamp, arrival))
        media_s = (frame.timestamp - anchor[0]) / rate
        at = anchor[1] + media_s
        if media_s <= _PROMPTEST_WITHIN_S:
            earliest = self._earliest.get(frame.kind, arrival)
            self._earliest[frame.kind] = min(earliest, arrival - media_s)
        else:
            self._past_window.add(frame.kind)
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

    def late_by(self, kind: str) -> float:
        """How much later than it should have, judged by the frames since, the first frame of
        `kind`'s first source arrived (seconds, ≥ 0): every place given by it is that late."""
        if kind in self._first_late_by:
            return self._first_late_by[kind]
        anchor = self._arrival.get(kind)
        return 0.0 if anchor is None else anchor[1] - self._earliest[kind]

    def settled(self, kind: str) -> bool:
        """Whether `late_by(kind)` is final: the frames that judge it (its first source's first
        seconds) have all come, or that source was replaced."""
        return kind in self._first_late_by or kind in self._past_window

    def restart(self, kind: str) -> None:
        """A new source for `kind`: place it by arrival again (its old report no longer holds)."""
        self._first_late_by.setdefault(kind, self.late_by(kind))
        self._arrival.pop(kind, None)
        self._report.pop(kind, None)
        self._earliest.pop(kind, None)

    def start(self, at: float) -> None:
        self._origin = at

    def relative(self, at: float) -> float | None:
        return None if self._origin is None else at - self._origin
