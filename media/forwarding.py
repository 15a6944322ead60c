"""Packet-level forwarding of one published track to its viewers (DESIGN.md §3).

A `PublishedTrack` receives the publisher's unprotected RTP once, keeps the last packets for
retransmission, and hands each to its `Subscription`s; each subscription rewrites SSRC, payload
type, sequence number, timestamp and header extensions for its viewer and queues the packet on the
viewer's `Link`. Nothing here decodes, depacketizes or awaits.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPsfbPacket,
    RtcpReceiverInfo,
    RtcpRrPacket,
    RtcpRtpfbPacket,
    RtcpSenderInfo,
    RtcpSrPacket,
    pack_remb_fci,
)

from media.link import Backlog, Link
from media.packets import (
    URI_ABS_SEND_TIME,
    URI_AUDIO_LEVEL,
    URI_MID,
    RtpHeader,
    build_rtp,
    extension_element,
    unwrap_rtx,
)
from media.rules import Kind
from media.speaking import SPEECH_LEVEL, VoiceMeter, audio_level
from signaling.ids import PeerId

ESTIMATE_TTL_S = 5.0
# After a subscription follows a new track, NACKs of sequence numbers before the switch are
# ignored for this many packets (then the comparison would wrap; nobody NACKs that far back).
EPOCH_GUARD_PACKETS = 0x4000


@dataclass(frozen=True)
class TrackLimits:
    history_packets: int
    backlog_packets: int
    keyframe_interval_s: float
    max_bitrate_bps: int
    speech_level: int = SPEECH_LEVEL


@dataclass(frozen=True)
class Negotiated:
    """What one m-line settled on, as the forwarder needs it (from aiortc's RTP parameters)."""

    mid: str
    payload_types: frozenset[int]
    primary_payload_type: int
    rtx_payload_types: dict[int, int]  # RTX payload type -> the payload type it repairs
    extension_ids: dict[str, int]  # header extension URI -> id
    ssrc: int | None = None
    rtx_ssrc: int | None = None
    codec: str = ""  # the primary codec's name, upper case: "VP8", "H264", "OPUS"
    clock_rate: int = 90_000  # of the primary codec (RTP timestamp units per second)


class RtpSink(Protocol):
    """Gets a published track's unprotected packets as the forwarder has them (RTX unwrapped),
    on the event loop: it must not block (a recorder queues them for its worker thread)."""

    def rtp(self, kind: Kind, header: RtpHeader) -> None: ...

    def sender_report(self, kind: Kind, ntp_timestamp: int, rtp_timestamp: int) -> None: ...


def _uint16(value: int) -> int:
    return value & 0xFFFF


def _uint32(value: int) -> int:
    return value & 0xFFFFFFFF


def _vp8_keyframe_start(payload: bytes) -> bool:
    # RFC 7741 §4.2: the payload descriptor; a partition's start has S=1 and PID=0, and the
    # VP8 payload header's first bit P (RFC 6386 §9.1, inverted) is 0 for a keyframe.
    if not payload or payload[0] & 0x17 != 0x10:
        return False
    i = 1
    if payload[0] & 0x80:  # X: the extension byte follows
        if len(payload) < 2:
            return False
        extension = payload[1]
        i = 2
        if extension & 0x80:  # I: a 7- or 15-bit PictureID (M bit)
            if len(payload) <= i:
                return False
            i += 2 if payload[i] & 0x80 else 1
        if extension & 0x40:  # L: TL0PICIDX
            i += 1
        if extension & 0x30:  # T or K: TID / KEYIDX
            i += 1
    return len(payload) > i and not payload[i] & 0x01


_H264_KEY_NALS = (5, 7)  # an IDR slice, or the sequence parameter set a keyframe starts with


def _h264_keyframe_start(payload: bytes) -> bool:
    # RFC 6184 §5.6-5.8: a single NAL unit, a STAP-A (24) of them, or an FU-A (28) start.
    if not payload:
        return False
    nal_type = payload[0] & 0x1F
    if nal_type == 24:
        i = 1
        while i + 2 < len(payload):
            if payload[i + 2] & 0x1F in _H264_KEY_NALS:
                return True
            i += 2 + int.from_bytes(payload[i : i + 2], "big")
        return False
    if nal_type == 28:
        return len(payload) > 1 and payload[1] & 0x80 != 0 and payload[1] & 0x1F in _H264_KEY_NALS
    return nal_type in _H264_KEY_NALS


_KEYFRAME_STARTS: dict[str, Callable[[bytes], bool]] = {
    "VP8": _vp8_keyframe_start,
    "H264": _h264_keyframe_start,
}


def starts_keyframe(codec: str, payload: bytes) -> bool | None:
    """Whether an RTP payload of `codec` begins a keyframe, read from its payload descriptor
    alone (never depacketized); None for a codec this cannot tell (audio has no keyframes)."""
    starts = _KEYFRAME_STARTS.get(codec)
    return starts(payload) if starts is not None else None


class PublishedTrack:
    def __init__(
        self,
        *,
        owner: PeerId,
        mid: str,
        kind: Kind,
        rtcp_ssrc: int,
        upstream: Link,
        limits: TrackLimits,
    ) -> None:
        self.owner, self.mid, self.kind = owner, mid, kind
        self.rtcp_ssrc = rtcp_ssrc
        self.upstream = upstream
        self.limits = limits
        self.negotiated: Negotiated | None = None
        self.ssrc: int | None = None
        self.rtx_ssrc: int | None = None
        self.subscriptions: dict[PeerId, Subscription] = {}
        self.taps: list[RtpSink] = []  # shared with the router: its owner's taps in the room
        # Audio: who spoke, from each packet's level (media/speaking.py); the router's tally.
        self.speech: Callable[[PeerId, float, int], None] | None = None
        self.meter = VoiceMeter(threshold=limits.speech_level) if kind == "audio" else None
        self._level_id = -1
        self._history: list[RtpHeader | None] = [None] * limits.history_packets
        self.last_packet_at = time.monotonic()  # when the last packet came (a gap's length)
        # RFC 3550 A.1 / A.3 receiver statistics, for the receiver reports we send upstream.
        self.received = 0
        self._base_seq: int | None = None
        self._max_seq = 0
        self._cycles = 0
        self._expected_prior = 0
        self._received_prior = 0
        self._lsr = 0
        self._lsr_at: float | None = None
        self._estimates: dict[PeerId, tuple[int, float]] = {}
        self._last_keyframe_request = -1e9
        self._keyframe_timer: asyncio.TimerHandle | None = None
        self._keyframe_wanted = False
        self.keyframe_requests = 0

    # --- in: RTP from the publisher -------------------------------------------------------

    def configure(self, negotiated: Negotiated) -> None:
        self.negotiated = negotiated
        if negotiated.ssrc is not None:
            self.ssrc = negotiated.ssrc
        if negotiated.rtx_ssrc is not None:
            self.rtx_ssrc = negotiated.rtx_ssrc
        self._level_id = negotiated.extension_ids.get(URI_AUDIO_LEVEL, -1)

    def on_rtp(self, header: RtpHeader) -> None:
        negotiated = self.negotiated
        if negotiated is None:
            return
        apt = negotiated.rtx_payload_types.get(header.payload_type)
        if apt is not None:
            if self.ssrc is None:
                return
            self.rtx_ssrc = header.ssrc
            unwrapped = unwrap_rtx(header, payload_type=apt, ssrc=self.ssrc)
            if unwrapped is None:
                return  # RTX padding: bandwidth probing, nothing to forward
            header = unwrapped
        elif header.payload_type not in negotiated.payload_types:
            return
        else:
            if self.ssrc != header.ssrc:
                self.ssrc = header.ssrc
                if self._keyframe_wanted:
                    self.request_keyframe()
            self._count(header.sequence)
            self.last_packet_at = time.monotonic()
        self._history[header.sequence % len(self._history)] = header
        for subscription in self.subscriptions.values():
            subscription.forward(header)
        for tap in self.taps:
            tap.rtp(self.kind, header)
        if self.meter is not None and self.speech is not None:
            level = audio_level(header.extensions.get(self._level_id))
            spoken = self.meter.speech_ms(header.timestamp, level)
            if spoken:
                self.speech(self.owner, time.time(), spoken)

    def _count(self, sequence: int) -> None:
        self.received += 1
        if self._base_seq is None:
            self._base_seq = self._max_seq = sequence
            return
        delta = _uint16(sequence - self._max_seq)
        if 0 < delta < 0x8000:
            if sequence < self._max_seq:
                self._cycles += 1 << 16
            self._max_seq = sequence

    def packet(self, sequence: int) -> RtpHeader | None:
        kept = self._history[sequence % len(self._history)]
        return kept if kept is not None and kept.sequence == sequence else None

    def newest(self) -> RtpHeader | None:
        """The packet with the highest sequence number received so far, if still kept."""
        return self.packet(self._max_seq) if self._base_seq is not None else None

    def hand_over(self, successor: PublishedTrack) -> None:
        """The publisher rebuilt its connection and publishes this track's kind again as
        `successor`: every viewer's subscription moves there, keeping its SSRC and carrying on
        its sequence numbers and timestamps (see `Subscription.follow`), and the successor is
        asked for a keyframe so the viewers' decoders recover at once."""
        newest, gap_since = self.newest(), self.last_packet_at
        for viewer, subscription in self.subscriptions.items():
            subscription.follow(successor, newest, gap_since)
            successor.subscriptions[viewer] = subscription
        self.subscriptions.clear()
        self.close()
        if successor.subscriptions:
            successor.request_keyframe()

    def on_sender_report(self, packet: RtcpSrPacket) -> None:
        self._lsr = (packet.sender_info.ntp_timestamp >> 16) & 0xFFFFFFFF
        self._lsr_at = time.monotonic()
        for subscription in self.subscriptions.values():
            subscription.sender_report(packet.sender_info)
        info = packet.sender_info
        for tap in self.taps:
            tap.sender_report(self.kind, info.ntp_timestamp, info.rtp_timestamp)

    # --- out: RTCP to the publisher -------------------------------------------------------

    def request_keyframe(self) -> None:
        """Ask the publisher for a keyframe (PLI, RFC 4585 §6.3.1), at most once per interval."""
        if self.kind != "video":
            return
        if self.ssrc is None:
            self._keyframe_wanted = True
            return
        if self._keyframe_timer is not None:
            return
        wait = self._last_keyframe_request + self.limits.keyframe_interval_s - time.monotonic()
        if wait > 0:
            loop = asyncio.get_running_loop()
            self._keyframe_timer = loop.call_later(wait, self._send_pli)
        else:
            self._send_pli()

    def _send_pli(self) -> None:
        self._keyframe_timer = None
        self._keyframe_wanted = False
        if self.ssrc is None:
            return
        self._last_keyframe_request = time.monotonic()
        self.keyframe_requests += 1
        pli = RtcpPsfbPacket(fmt=RTCP_PSFB_PLI, ssrc=self.rtcp_ssrc, media_ssrc=self.ssrc)
        self.upstream.send_rtcp(bytes(pli))

    def nack_upstream(self, sequences: list[int]) -> None:
        if self.ssrc is None or not sequences:
            return
        nack = RtcpRtpfbPacket(fmt=RTCP_RTPFB_NACK, ssrc=self.rtcp_ssrc, media_ssrc=self.ssrc)
        nack.lost = sorted(set(sequences))
        self.upstream.send_rtcp(bytes(nack))

    def note_estimate(self, viewer: PeerId, bitrate: int) -> None:
        self._estimates[viewer] = (bitrate, time.monotonic())

    def report(self) -> bytes:
        """A receiver report (RFC 3550 §6.4.2) and, for video, a REMB (the slowest viewer's)."""
        if self.ssrc is None or self._base_seq is None:
            return b""
        expected = self._cycles + self._max_seq - self._base_seq + 1
        expected_interval = expected - self._expected_prior
        received_interval = self.received - self._received_prior
        self._expected_prior, self._received_prior = expected, self.received
        lost_interval = expected_interval - received_interval
        fraction = (lost_interval << 8) // expected_interval if lost_interval > 0 else 0
        dlsr = 0
        if self._lsr_at is not None:
            dlsr = int((time.monotonic() - self._lsr_at) * 65536) & 0xFFFFFFFF
        info = RtcpReceiverInfo(
            ssrc=self.ssrc,
            fraction_lost=min(fraction, 255),
            packets_lost=max(min(expected - self.received, 0x7FFFFF), -0x800000),
            highest_sequence=_uint32(self._cycles + self._max_seq),
            jitter=0,
            lsr=self._lsr,
            dlsr=dlsr,
        )
        out = bytes(RtcpRrPacket(ssrc=self.rtcp_ssrc, reports=[info]))
        if self.kind == "video":
            out += bytes(
                RtcpPsfbPacket(
                    fmt=RTCP_PSFB_APP,
                    ssrc=self.rtcp_ssrc,
                    media_ssrc=0,
                    fci=pack_remb_fci(self.bandwidth_estimate(), [self.ssrc]),
                )
            )
        return out

    def bandwidth_estimate(self) -> int:
        now = time.monotonic()
        fresh = [
            bps
            for viewer, (bps, at) in list(self._estimates.items())
            if now - at < ESTIMATE_TTL_S and viewer in self.subscriptions
        ]
        return min([self.limits.max_bitrate_bps, *fresh])

    def close(self) -> None:
        if self._keyframe_timer is not None:
            self._keyframe_timer.cancel()
            self._keyframe_timer = None
        for subscription in list(self.subscriptions.values()):
            subscription.close()
        self.subscriptions.clear()


class Subscription:
    """One viewer's copy of one published track."""

    def __init__(
        self,
        *,
        viewer: PeerId,
        track: PublishedTrack,
        link: Link,
        ssrc: int,
        negotiated: Negotiated,
        backlog_packets: int,
    ) -> None:
        self.viewer, self.track, self.link = viewer, track, link
        self.ssrc = ssrc
        self.payload_type = negotiated.primary_payload_type
        ids = negotiated.extension_ids
        self._mid_element = extension_element(ids.get(URI_MID, 0), negotiated.mid.encode())
        self._audio_level_id = ids.get(URI_AUDIO_LEVEL, 0)
        self._abs_send_time_id = ids.get(URI_ABS_SEND_TIME, 0)
        self.codec = negotiated.codec
        self.clock_rate = negotiated.clock_rate
        self._seq_offset: int | None = None
        self._ts_offset = 0
        # After `follow`: the last sequence number and timestamp this viewer got, and since when
        # the publisher was silent; the next packet carries on from them. Viewer sequence numbers
        # before `_epoch` belong to the track followed before (NACKs of them are not answered).
        self._resume: tuple[int, int, float] | None = None
        # Video starts (and resumes) at a keyframe: a decoder can use no delta before one, and
        # a browser that gets them asks for a keyframe with every picture it cannot decode.
        self._awaiting_keyframe = track.kind == "video"
        self._epoch: int | None = None
        self._epoch_sent = 0
        self.backlog = Backlog(backlog_packets)
        self.sent = 0
        self.octets = 0
        self.retransmitted = 0

    def follow(self, track: PublishedTrack, newest: RtpHeader | None, gap_since: float) -> None:
        """Take packets from `track` (the publisher's new connection) in place of the track
        followed so far, whose `newest` packet this viewer got last. The viewer sees one stream:
        the same SSRC, the next sequence number, a timestamp that moved on by the publisher's
        silence; video resumes at a keyframe (a decoder cannot use the new encoder's deltas)."""
        self.track = track
        if self._seq_offset is not None and newest is not None:
            self._resume = (
                _uint16(newest.sequence + self._seq_offset),
                _uint32(newest.timestamp + self._ts_offset),
                gap_since,
            )
            self._awaiting_keyframe = track.kind == "video"
        # else nothing was forwarded since the last start: that start (or a resume) still holds.
        self._seq_offset = None

    def _starts_at(self, header: RtpHeader) -> bool:
        if self._awaiting_keyframe:
            if starts_keyframe(self.codec, header.payload) is False:
                self.track.request_keyframe()  # rate-limited: at most once per interval
                return False
            self._awaiting_keyframe = False
        return True

    def _rewrite(self, header: RtpHeader) -> bytes:
        if self._seq_offset is None:
            if self._resume is not None:
                sequence, timestamp, since = self._resume
                self._resume = None
                ticks = max(1, round((time.monotonic() - since) * self.clock_rate))
                self._epoch, self._epoch_sent = _uint16(sequence + 1), self.sent
                self._seq_offset = _uint16(self._epoch - header.sequence)
                self._ts_offset = _uint32(timestamp + ticks - header.timestamp)
            else:
                # Random starting points (RFC 3550 §5.1), below 2^15 so the first wrap is far.
                self._seq_offset = _uint16(secrets.randbelow(1 << 15) - header.sequence)
                self._ts_offset = _uint32(secrets.randbits(32) - header.timestamp)
        elements = self._mid_element
        track = self.track.negotiated
        if track is not None:
            source_ids = track.extension_ids
            if self._audio_level_id:
                level = header.extensions.get(source_ids.get(URI_AUDIO_LEVEL, -1))
                if level is not None:
                    elements += extension_element(self._audio_level_id, level)
            if self._abs_send_time_id:
                sent_at = header.extensions.get(source_ids.get(URI_ABS_SEND_TIME, -1))
                if sent_at is not None:
                    elements += extension_element(self._abs_send_time_id, sent_at)
        return build_rtp(
            marker=header.marker,
            payload_type=self.payload_type,
            sequence=_uint16(header.sequence + self._seq_offset),
            timestamp=_uint32(header.timestamp + self._ts_offset),
            ssrc=self.ssrc,
            padding=header.padding,
            elements=elements,
            payload=header.payload,
        )

    def forward(self, header: RtpHeader) -> None:
        if self._seq_offset is None and not self._starts_at(header):
            return
        if self.link.send_rtp(self._rewrite(header), self.backlog):
            self.sent += 1
            self.octets += len(header.payload)

    def retransmit(self, lost: Iterable[int]) -> list[int]:
        """Resend what the viewer lost from the track's history (RFC 4585 §6.2.1 NACK);
        returns the publisher's sequence numbers that were never received here."""
        if self._seq_offset is None:
            return []
        epoch = self._epoch
        if epoch is not None and self.sent - self._epoch_sent >= EPOCH_GUARD_PACKETS:
            self._epoch = epoch = None  # no viewer asks again for packets that old
        missing: list[int] = []
        for viewer_sequence in lost:
            if epoch is not None and _uint16(viewer_sequence - epoch) >= 0x8000:
                continue  # sent from the publisher's previous connection: gone with it
            sequence = _uint16(viewer_sequence - self._seq_offset)
            kept = self.track.packet(sequence)
            if kept is None:
                missing.append(sequence)
                continue
            self.retransmitted += 1
            self.link.send_rtp(self._rewrite(kept), self.backlog)
        return missing

    def sender_report(self, info: RtcpSenderInfo) -> None:
        """The publisher's NTP↔RTP mapping in this viewer's timestamps, for lip sync."""
        if self._seq_offset is None:
            return
        report = RtcpSrPacket(
            ssrc=self.ssrc,
            sender_info=RtcpSenderInfo(
                ntp_timestamp=info.ntp_timestamp,
                rtp_timestamp=_uint32(info.rtp_timestamp + self._ts_offset),
                packet_count=_uint32(self.sent),
                octet_count=_uint32(self.octets),
            ),
        )
        self.link.send_rtcp(bytes(report))

    def close(self) -> None:
        self.backlog.packets.clear()


def on_feedback(
    subscription: Subscription,
    kind: str,
    *,
    lost: list[int] | None = None,
    bitrate: int | None = None,
) -> None:
    """A viewer's RTCP feedback about `subscription`, applied on the way upstream."""
    track = subscription.track
    if kind == "keyframe":
        track.request_keyframe()
    elif kind == "nack" and lost:
        track.nack_upstream(subscription.retransmit(lost))
    elif kind == "remb" and bitrate is not None:
        track.note_estimate(subscription.viewer, bitrate)
