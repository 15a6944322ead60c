"""A member that rebuilds its connection to `media` (issue 11 "Reconnect"): it gets everything
back, and the other members keep their m-lines for its tracks (no renegotiation); what it does
not publish any more, or a member that does not come back, is released as before."""

from __future__ import annotations

import contextlib
import fractions
import gc
import os
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from unittest import mock

import aioice.ice
import pylibsrtp
import pytest
from aiortc import AudioStreamTrack, RTCRtpReceiver, RTCSessionDescription
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.rtp import RtcpPacket, RtcpPsfbPacket
from av import VideoFrame

from media import MediaConfig, MediaErrorCode, MediaEvent, MediaFailure, MediaOffer
from media.forwarding import (
    Negotiated,
    PublishedTrack,
    Subscription,
    TrackLimits,
    starts_keyframe,
)
from media.hooks import ice_connection
from media.link import Link, PacketSink
from media.packets import RtpHeader, is_rtcp, parse_rtp
from signaling.ids import PeerId
from tests.media.support import (
    HEIGHT,
    ROOM,
    WIDTH,
    Client,
    Room,
    eventually,
    loopback_ice,
    open_sockets,
)
from tests.media.test_bad_input import _tasks

A, B, B2 = 60, 130, 200  # grey levels: a, b, and b after it rebuilt its connection
UINT16 = 1 << 16


class CountingRoom(Room):
    """The media offers each member got after joining (renegotiations)."""

    def __init__(self, config: MediaConfig) -> None:
        self.offers_to: Counter[PeerId] = Counter()
        self.last_offer_to: dict[PeerId, str] = {}
        super().__init__(config)

    def _on_event(self, event: MediaEvent) -> None:
        if isinstance(event, MediaOffer):
            self.offers_to[event.member_id] += 1
            self.last_offer_to[event.member_id] = event.sdp
        super()._on_event(event)


@contextlib.asynccontextmanager
async def counting_room(config: MediaConfig | None = None) -> AsyncIterator[CountingRoom]:
    with loopback_ice():
        room = CountingRoom(config or MediaConfig(ice_timeout_s=5.0))
        try:
            yield room
        finally:
            await room.close()


class SentPackets:
    """What the server sends a viewer, read from the SRTP headers (which are not encrypted)."""

    def __init__(self, real: PacketSink) -> None:
        self.real = real
        self.rtp: list[tuple[int, int, int]] = []  # (ssrc, sequence, timestamp), in send order

    def writable(self) -> bool:
        return self.real.writable()

    def send(self, datagram: bytes) -> None:
        header = None if is_rtcp(datagram) else parse_rtp(datagram)
        if header is not None:
            self.rtp.append((header.ssrc, header.sequence, header.timestamp))
        self.real.send(datagram)


def video_receiver(client: Client) -> RTCRtpReceiver:
    """The client's one receiver of a remote video (two members: the other one's camera)."""
    (receiver,) = [
        t.receiver
        for t in client.pc.getTransceivers()
        if t.kind == "video" and t.currentDirection == "recvonly"
    ]
    return receiver


def inactive_mlines(offer: str) -> list[str]:
    return [m for m in offer.split("m=")[1:] if "a=inactive" in m]


class MicrophoneOnly(Client):
    """A member whose camera is off: it answers with its microphone only."""

    async def make_answer(self, offer: str) -> str:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        if not any(s.track for s in self.pc.getSenders()):
            self.pc.addTrack(AudioStreamTrack())
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return str(self.pc.localDescription.sdp)


async def two_members(room: CountingRoom) -> tuple[Client, Client]:
    a, b = room.client("a", luma=A), room.client("b", luma=B)
    await a.join()
    await b.join()
    await eventually(lambda: a.sees(B) and b.sees(A) and len(a.audio_frames) == 1, timeout=20)
    return a, b


@pytest.mark.timeout(60)
async def test_a_member_that_rebuilds_its_connection_gets_it_all_back_and_no_one_renegotiates() -> (
    None
):
    tasks, sockets = _tasks(), open_sockets()
    async with counting_room() as room:
        a, b = await two_members(room)
        offers_to_a = room.offers_to[a.member]
        receiver = video_receiver(a)
        (ssrc,) = [s.source for s in receiver.getSynchronizationSources()]
        (audio_track,) = a.audio_frames
        new_tracks: list[object] = []
        a.pc.on("track", new_tracks.append)
        link = room.router.link(ROOM, a.member)
        assert isinstance(link, Link)
        sent = SentPackets(link.sink)
        link.sink = sent
        await eventually(lambda: any(s == ssrc for s, _, _ in sent.rtp))

        # b's network changed: it drops its peer connection and builds a new one.
        await b.close()
        heard = a.audio_frames[audio_track]
        switched_at = len(sent.rtp)
        rebuilt = room.client("b", luma=B2)
        await rebuilt.join()

        # a decodes the new connection's picture within a second, and was not renegotiated...
        await eventually(lambda: a.sees(B2, frames=10), timeout=5)
        assert room.offers_to[a.member] == offers_to_a
        assert a.first_frame_at[B2] - rebuilt.joined_at < 1.0
        # ...on the receiver (and track) it had: the same m-line and SSRC.
        assert video_receiver(a) is receiver
        assert {s.source for s in receiver.getSynchronizationSources()} == {ssrc}
        assert new_tracks == []
        await eventually(lambda: a.audio_frames[audio_track] > heard + 25, timeout=5)
        assert len(a.audio_frames) == 1  # b's voice on the same track too
        # ...b gets a's audio and video again on its new connection, and a still had no offer.
        await eventually(lambda: rebuilt.sees(A) and len(rebuilt.audio_frames) == 1, timeout=5)
        assert room.offers_to[a.member] == offers_to_a

        # The packets a got for b's video: one SSRC, sequence numbers running on (a reset to a
        # random start would jump), timestamps moving forward by about the pause.
        video = [(seq, ts) for s, seq, ts in sent.rtp if s == ssrc]
        before = len([s for s, _, _ in sent.rtp[:switched_at] if s == ssrc])
        assert before > 0
        assert len(video) - before > 10
        highest, ts_at_highest, steps, ts_jumps = video[0][0], video[0][1], [], []
        for seq, ts in video[1:]:
            step = (seq - highest) % UINT16
            if 0 < step < UINT16 // 2:  # not a retransmission of an earlier one
                steps.append(step)
                ts_jumps.append((ts - ts_at_highest) % (1 << 32))
                highest, ts_at_highest = seq, ts
        assert max(steps) <= 2, sorted(steps)[-5:]
        # The largest timestamp step is the pause: forward, and no more than the time it took.
        assert 0 < max(ts_jumps) < 90_000 * (time.monotonic() - rebuilt.joined_at + 2)

        # Everything goes when they leave.
        await room.router.leave(ROOM, a.member)
        await room.router.leave(ROOM, rebuilt.member)
        assert room.router.stats(ROOM) == ([], [])
        assert room.router._rooms[ROOM].reserved == {}
    gc.collect()
    await eventually(lambda: _tasks() <= tasks and open_sockets() <= sockets, timeout=5)


@pytest.mark.timeout(60)
async def test_coming_back_with_the_camera_off_releases_only_the_video_slot() -> None:
    async with counting_room() as room:
        a, b = await two_members(room)
        offers_to_a = room.offers_to[a.member]
        (audio_track,) = a.audio_frames
        await b.close()
        rebuilt = MicrophoneOnly(room.router, "b", luma=None)
        room.clients[rebuilt.member] = rebuilt
        await rebuilt.join()

        # a is renegotiated once: the m-line that carried b's camera goes inactive...
        await eventually(lambda: room.offers_to[a.member] == offers_to_a + 1, timeout=5)
        heard = a.audio_frames[audio_track]
        await eventually(lambda: a.audio_frames[audio_track] > heard + 25, timeout=5)
        # ...while b's voice carries on, on a's same audio track, with no further offer.
        assert len(a.audio_frames) == 1
        assert room.offers_to[a.member] == offers_to_a + 1
        (inactive,) = inactive_mlines(room.last_offer_to[a.member])
        assert inactive.startswith("video ")
        _, forwards = room.router.stats(ROOM)
        assert {(f.publisher, f.kind, f.viewer) for f in forwards} == {
            ("b", "audio", "a"),
            ("a", "audio", "b"),
            ("a", "video", "b"),
        }
        assert room.router._rooms[ROOM].reserved == {}
        await eventually(lambda: rebuilt.sees(A), timeout=5)


@pytest.mark.timeout(60)
async def test_a_member_that_never_comes_back_releases_its_slots() -> None:
    async with counting_room(MediaConfig(ice_timeout_s=1.0)) as room:
        a, b = await two_members(room)
        offers_to_a = room.offers_to[a.member]
        await b.close()
        rebuilt = room.client("b", luma=B2)
        await rebuilt.join(answer=False)  # its new connection never gets going: ICE times out
        await eventually(
            lambda: any(
                isinstance(f, MediaFailure) and f.error.code is MediaErrorCode.ICE_TIMEOUT
                for f in rebuilt.failures
            ),
            timeout=5,
        )
        # a is renegotiated once, its m-lines for b's microphone and camera inactive.
        await eventually(lambda: room.offers_to[a.member] == offers_to_a + 1, timeout=5)
        assert len(inactive_mlines(room.last_offer_to[a.member])) == 2
        tracks, forwards = room.router.stats(ROOM)
        assert {t.publisher for t in tracks} == {"a"}
        assert forwards == []
        assert room.router._rooms[ROOM].reserved == {}


@contextlib.contextmanager
def quick_consent() -> Iterator[None]:
    """ICE consent (RFC 7675) checked every 0.1 s and lost after two misses, not 30 s."""
    with (
        mock.patch.object(aioice.ice, "CONSENT_INTERVAL", 0.1),
        mock.patch.object(aioice.ice, "CONSENT_FAILURES", 2),
    ):
        yield


def lose_network(client: Client) -> None:
    """The client's network goes away: its sockets close, it sends nothing (not even a
    goodbye), so the server sees its connection fail when consent runs out."""
    dtls = client.pc.getTransceivers()[0].receiver.transport
    for protocol in ice_connection(dtls)._protocols:
        if protocol.transport is not None:
            protocol.transport.close()


@pytest.mark.timeout(60)
async def test_a_connection_that_breaks_is_rebuilt_without_renegotiating_the_others() -> None:
    with quick_consent():
        async with counting_room() as room:
            a, b = await two_members(room)
            offers_to_a = room.offers_to[a.member]
            receiver = video_receiver(a)
            lose_network(b)
            await eventually(lambda: bool(b.failures), timeout=10)
            failure = b.failures[0]
            assert isinstance(failure, MediaFailure)
            assert failure.error.code is MediaErrorCode.CONNECTION_FAILED
            # The failure tells the member (through the media driver) to rebuild; it does.
            await b.close()
            rebuilt = room.client("b", luma=B2)
            await rebuilt.join()
            await eventually(lambda: a.sees(B2, frames=10) and rebuilt.sees(A), timeout=5)
            assert room.offers_to[a.member] == offers_to_a
            assert video_receiver(a) is receiver
            assert len(a.audio_frames) == 1


@pytest.mark.timeout(60)
async def test_a_broken_connection_not_rebuilt_in_time_releases_its_slots() -> None:
    tasks, sockets = _tasks(), open_sockets()
    with quick_consent():
        async with counting_room(MediaConfig(ice_timeout_s=1.0)) as room:
            a, b = await two_members(room)
            offers_to_a = room.offers_to[a.member]
            lose_network(b)
            await eventually(lambda: bool(b.failures), timeout=10)
            broke_at = time.monotonic()
            assert room.offers_to[a.member] == offers_to_a  # not yet: b may be rebuilding
            await eventually(lambda: room.offers_to[a.member] == offers_to_a + 1, timeout=5)
            assert time.monotonic() - broke_at >= 0.9
            assert len(inactive_mlines(room.last_offer_to[a.member])) == 2
            _, forwards = room.router.stats(ROOM)
            assert forwards == []
            assert room.router._rooms[ROOM].reserved == {}
    gc.collect()
    await eventually(lambda: _tasks() <= tasks and open_sockets() <= sockets, timeout=5)


def _frames(count: int) -> list[VideoFrame]:
    frames = []
    for index in range(count):
        frame = VideoFrame(width=WIDTH, height=HEIGHT)
        frame.planes[0].update(bytes([(index * 37) % 256]) * frame.planes[0].buffer_size)
        for plane in frame.planes[1:]:
            plane.update(bytes([128]) * plane.buffer_size)
        frame.pts, frame.time_base = index * 3000, fractions.Fraction(1, 90000)
        frames.append(frame)
    return frames


@pytest.mark.parametrize(("codec", "encoder"), [("VP8", Vp8Encoder), ("H264", H264Encoder)])
def test_a_keyframe_start_is_told_from_the_payload_descriptor(codec: str, encoder: type) -> None:
    made = encoder()
    key, delta = _frames(2)
    key_packets, _ = made.encode(key, force_keyframe=True)
    delta_packets, _ = made.encode(delta)
    assert starts_keyframe(codec, key_packets[0]) is True
    assert not any(starts_keyframe(codec, p) for p in key_packets[1:] if codec == "VP8")
    assert not any(starts_keyframe(codec, p) for p in delta_packets)
    assert starts_keyframe(codec, b"") is False
    assert starts_keyframe("OPUS", key_packets[0]) is None


# --- the packet path alone: real SRTP, a real VP8 encoder, no network -------------------------


class _Srtp:
    """The SRTP sessions a DTLS handshake would have made (the only part of it `Link` uses)."""

    def __init__(self, key: bytes) -> None:
        policy = pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_OUTBOUND)
        policy.allow_repeat_tx = True  # retransmissions, as aiortc sets it
        self._tx_srtp = pylibsrtp.Session(policy)
        self._rx_srtp = self._tx_srtp


class _Received:
    """A viewer's (or publisher's) end of the wire: it unprotects what the link sent."""

    def __init__(self, key: bytes) -> None:
        self.session = pylibsrtp.Session(
            pylibsrtp.Policy(key=key, ssrc_type=pylibsrtp.Policy.SSRC_ANY_INBOUND)
        )
        self.rtp: list[RtpHeader] = []
        self.rtcp: list[bytes] = []
        self.lose: set[int] = set()  # sequence numbers the network loses (once each)

    def writable(self) -> bool:
        return True

    def send(self, datagram: bytes) -> None:
        if is_rtcp(datagram):
            self.rtcp.append(self.session.unprotect_rtcp(datagram))
            return
        sent = parse_rtp(datagram)  # SRTP leaves the header in the clear
        if sent is not None and sent.sequence in self.lose:
            self.lose.discard(sent.sequence)
            return
        header = parse_rtp(self.session.unprotect(datagram))
        assert header is not None
        self.rtp.append(header)


def _link() -> tuple[Link, _Received]:
    key = os.urandom(30)
    link = Link(_Srtp(key))  # type: ignore[arg-type]
    received = _Received(key)
    link.sink = received
    return link, received


def _vp8_packets(
    frames: int, *, ssrc: int, sequence: int, timestamp: int, keyframes: tuple[int, ...] = (0,)
) -> list[RtpHeader]:
    """A fresh encoder's packets (a keyframe first), as a publisher's new connection sends."""
    encoder, packets = Vp8Encoder(), []
    for index, frame in enumerate(_frames(frames)):
        payloads, _ = encoder.encode(frame, force_keyframe=index in keyframes)
        for i, payload in enumerate(payloads):
            packets.append(
                RtpHeader(
                    marker=i == len(payloads) - 1,
                    payload_type=96,
                    sequence=(sequence + len(packets)) % UINT16,
                    timestamp=(timestamp + 3000 * index) % (1 << 32),
                    ssrc=ssrc,
                    padding=False,
                    extensions={},
                    payload=payload,
                )
            )
    return packets


def _track(upstream: Link, ssrc: int) -> PublishedTrack:
    track = PublishedTrack(
        owner=PeerId("b"),
        mid="1",
        kind="video",
        rtcp_ssrc=1,
        upstream=upstream,
        limits=TrackLimits(
            history_packets=512,
            backlog_packets=64,
            keyframe_interval_s=0.5,
            max_bitrate_bps=1_000_000,
        ),
    )
    track.configure(Negotiated("1", frozenset({96}), 96, {}, {}, ssrc=ssrc, codec="VP8"))
    return track


def _subscribe(viewer: PeerId, track: PublishedTrack, link: Link) -> Subscription:
    subscription = Subscription(
        viewer=viewer,
        track=track,
        link=link,
        ssrc=0xABCD,
        negotiated=Negotiated("4", frozenset({97}), 97, {}, {}, codec="VP8"),
        backlog_packets=64,
    )
    track.subscriptions[viewer] = subscription
    return subscription


async def test_keyframe_requests_reach_the_publisher_at_most_once_per_interval() -> None:
    # Every viewer's decoder asks (PLI) while it waits; the publisher gets one request, and
    # the ones it was spared are answered by one more when the interval is over, not dropped.
    upstream, publisher = _link()
    track = _track(upstream, ssrc=0x1111)
    asked_at = time.monotonic()
    for _ in range(20):
        track.request_keyframe()
    assert len(publisher.rtcp) == 1
    await eventually(lambda: len(publisher.rtcp) == 2, timeout=2)
    assert time.monotonic() - asked_at >= 0.5
    for _ in range(5):
        track.request_keyframe()
    assert len(publisher.rtcp) == 2
    assert track.keyframe_requests == 2
    for datagram in publisher.rtcp:
        (pli,) = RtcpPacket.parse(datagram)
        assert isinstance(pli, RtcpPsfbPacket)
        assert pli.media_ssrc == 0x1111
    track.close()  # the request now waiting for its turn is cancelled with the track


async def test_a_new_viewer_gets_video_from_a_keyframe_on() -> None:
    # Subscribed mid-picture-group: the deltas before the next keyframe are not sent (its
    # decoder could use none of them); the viewer asks once for a keyframe, as the router does.
    upstream, publisher = _link()
    viewer_link, viewer = _link()
    track = _track(upstream, ssrc=0x1111)
    _subscribe(PeerId("a"), track, viewer_link)
    packets = _vp8_packets(12, ssrc=0x1111, sequence=100, timestamp=5, keyframes=(0, 6))
    keyframe_at = next(i for i, h in enumerate(packets) if i and starts_keyframe("VP8", h.payload))
    for header in packets[1:]:
        track.on_rtp(header)
    assert [h.payload for h in viewer.rtp] == [h.payload for h in packets[keyframe_at:]]
    assert len(publisher.rtcp) == 1
    (pli,) = RtcpPacket.parse(publisher.rtcp[0])
    assert isinstance(pli, RtcpPsfbPacket)
    track.close()


async def test_a_followed_track_carries_on_the_viewers_stream_from_a_keyframe() -> None:
    upstream, publisher = _link()
    viewer_link, viewer = _link()
    old = _track(upstream, ssrc=0x1111)
    subscription = _subscribe(PeerId("a"), old, viewer_link)
    for header in _vp8_packets(10, ssrc=0x1111, sequence=65530, timestamp=4_000_000_000):
        old.on_rtp(header)
    before = list(viewer.rtp)
    last = before[-1]

    # The publisher's new connection: another SSRC, another random start; its first keyframe
    # is lost on the way in, so deltas come first (the viewer's decoder could not use them).
    new = _track(upstream, ssrc=0x2222)
    old.hand_over(new)
    assert new.subscriptions == {PeerId("a"): subscription}
    assert old.subscriptions == {}
    assert len(publisher.rtcp) == 1  # the new connection is asked for a keyframe at once
    (pli,) = RtcpPacket.parse(publisher.rtcp[0])
    assert isinstance(pli, RtcpPsfbPacket)
    assert pli.media_ssrc == 0x2222
    fresh = _vp8_packets(12, ssrc=0x2222, sequence=300, timestamp=77, keyframes=(0, 5))
    for header in fresh[1:5]:
        new.on_rtp(header)
    assert viewer.rtp == before
    lost = (last.sequence + 3) % UINT16
    viewer.lose = {lost}
    for header in fresh[5:]:  # the keyframe it asked for, and what follows
        new.on_rtp(header)
    after = viewer.rtp[len(before) :]
    assert starts_keyframe("VP8", after[0].payload)
    assert after[0].payload == fresh[5].payload
    assert {h.ssrc for h in viewer.rtp} == {0xABCD}
    assert {h.payload_type for h in viewer.rtp} == {97}
    # One stream for the viewer: the next sequence numbers, timestamps on from the pause.
    sequences = [(last.sequence + 1 + i) % UINT16 for i in range(len(fresh) - 5)]
    assert [h.sequence for h in after] == [q for q in sequences if q != lost]
    assert 0 < (after[0].timestamp - last.timestamp) % (1 << 32) < 90_000
    assert [(h.timestamp - after[0].timestamp) % (1 << 32) for h in after] == [
        3000 * i for i, q in enumerate(sequences) if q != lost
    ]
    # The lost packet is resent from the new track's history; a NACK of a packet from before
    # the switch is not answered (the new track's history has nothing of the old connection).
    assert subscription.retransmit([lost]) == []
    assert viewer.rtp[-1].sequence == lost
    assert viewer.rtp[-1].payload == fresh[5 + 2].payload
    assert subscription.retransmit([(last.sequence - 1) % UINT16, last.sequence]) == []
    assert viewer.rtp[-1].sequence == lost
    subscription.close()
    new.close()
