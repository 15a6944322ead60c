"""One member's peer connection with the `media` peer: aiortc negotiates, the forwarder carries.

The `media` peer makes every offer (RFC 9429 §5.2): aiortc's `createOffer` rewrites the payload
types of every existing m-line to its own table, so a connection whose first offer came from a
browser (Opus 111, VP8 96) could not be renegotiated without changing them under the browser.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import pylibsrtp
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.codecs import is_rtx
from aiortc.rtcconfiguration import RTCBundlePolicy
from aiortc.rtcrtpparameters import RTCRtpCodecCapability
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RTCP_PSFB_FIR,
    RTCP_PSFB_PLI,
    RTCP_RTPFB_NACK,
    RtcpPacket,
    RtcpPsfbPacket,
    RtcpRtpfbPacket,
    RtcpSrPacket,
    unpack_remb_fci,
)
from aiortc.sdp import SessionDescription, candidate_from_sdp

from media import hooks
from media.config import MediaConfig
from media.errors import MediaError, MediaErrorCode, mapped
from media.forwarding import (
    Negotiated,
    PublishedTrack,
    Subscription,
    TrackLimits,
    on_feedback,
)
from media.link import Link
from media.packets import URI_MID, RtpHeader, is_rtcp, parse_rtp
from media.rules import Kind
from signaling.ids import PeerId
from signaling.messages import IceCandidate

TrackKey = tuple[PeerId, str]  # (publisher, publisher's mid)
MAX_SSRCS = 16


class Wiring(Protocol):
    """What a connection tells its router."""

    def published(self, connection: MemberConnection, track: PublishedTrack) -> None: ...
    def sending(
        self, connection: MemberConnection, key: TrackKey, ssrc: int, negotiated: Negotiated
    ) -> None: ...
    def state_changed(self, connection: MemberConnection, state: str) -> None: ...


def codec_preferences(kind: Kind, video_codec: str) -> list[RTCRtpCodecCapability]:
    capabilities = RTCRtpSender.getCapabilities(kind).codecs
    if kind == "audio":
        return [c for c in capabilities if c.mimeType.lower() == "audio/opus"]
    wanted = [
        c
        for c in capabilities
        if c.name.upper() == video_codec
        and (video_codec != "H264" or str(c.parameters.get("profile-level-id")) == "42e01f")
    ]
    return wanted + [c for c in capabilities if c.mimeType.lower() == "video/rtx"]


def negotiated_from(parameters: Any) -> Negotiated:
    """aiortc's RTCRtpReceiveParameters / RTCRtpSendParameters, as the forwarder needs them."""
    media = [c for c in parameters.codecs if not is_rtx(c)]
    rtx = {
        int(c.payloadType): int(c.parameters["apt"])
        for c in parameters.codecs
        if is_rtx(c) and isinstance(c.parameters.get("apt"), int)
    }
    encodings = list(getattr(parameters, "encodings", []))
    return Negotiated(
        mid=str(parameters.muxId),
        payload_types=frozenset(int(c.payloadType) for c in media),
        primary_payload_type=int(media[0].payloadType) if media else -1,
        rtx_payload_types=rtx,
        extension_ids={str(e.uri): int(e.id) for e in parameters.headerExtensions},
        ssrc=int(encodings[0].ssrc) if encodings else None,
        rtx_ssrc=int(encodings[0].rtx.ssrc) if encodings and encodings[0].rtx else None,
        codec=str(media[0].mimeType).partition("/")[2].upper() if media else "",
        clock_rate=int(media[0].clockRate) if media else 90_000,
    )


class MemberConnection:
    def __init__(
        self, member: PeerId, may_publish: bool, config: MediaConfig, wiring: Wiring
    ) -> None:
        self.member = member
        self.may_publish = may_publish
        self.config = config
        self.wiring = wiring
        servers = [
            RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
            for s in config.ice_servers
        ]
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.pc.on("connectionstatechange", self._on_state)
        self.limits = TrackLimits(
            history_packets=config.history_packets,
            backlog_packets=config.backlog_packets,
            keyframe_interval_s=config.keyframe_interval_s,
            max_bitrate_bps=config.max_bitrate_bps,
            speech_level=config.speech_level,
        )
        self.lock = asyncio.Lock()
        self.connected = asyncio.Event()
        self.link: Link | None = None
        self.published: dict[str, PublishedTrack] = {}
        self.outgoing: dict[TrackKey, RTCRtpTransceiver] = {}
        self.subscriptions: dict[int, Subscription] = {}  # our SSRC toward this member -> sub
        self._receiving: set[RTCRtpTransceiver] = set()
        self._by_ssrc: dict[int, PublishedTrack] = {}
        self.changed = True
        self.closed = False

    # --- negotiation ------------------------------------------------------------------------

    def _transceiver(self, kind: Kind, direction: str) -> RTCRtpTransceiver:
        transceiver = self.pc.addTransceiver(kind, direction=direction)
        transceiver.setCodecPreferences(codec_preferences(kind, self.config.video_codec))
        self.changed = True
        return transceiver

    def receive_own(self, kind: Kind) -> None:
        """An m-line for the member's own camera or microphone (it sends, we receive)."""
        transceiver = self._transceiver(kind, "recvonly")
        self._receiving.add(transceiver)
        hooks.take_over_receiver(transceiver.receiver, self._on_receive(transceiver, kind))

    def send_track(self, key: TrackKey, kind: Kind) -> None:
        """An m-line carrying another member's track to this member."""
        transceiver = self._transceiver(kind, "sendonly")
        # The page maps each incoming track to its tile by the msid stream id (RFC 8830 §2):
        # the publisher's peer id (`RTCTrackEvent.streams[0].id` in a browser).
        hooks.name_stream(transceiver.sender, key[0])
        self.outgoing[key] = transceiver
        hooks.take_over_sender(transceiver.sender, self._on_send(transceiver))

    def rename_outgoing(self, old: TrackKey, new: TrackKey) -> None:
        """The m-line that carried `old` carries `new` from now on, unchanged for the member
        (the publisher's track moved to its rebuilt connection: the same kind, another mid)."""
        transceiver = self.outgoing.pop(old, None)
        if transceiver is None:
            return
        if new in self.outgoing:
            self.stop_sending(new)  # never two m-lines for one key
        self.outgoing[new] = transceiver

    def publishing(self) -> set[Kind]:
        """The kinds the member's last answer sends (its camera and microphone m-lines)."""
        kinds: set[Kind] = set()
        for transceiver in self._receiving:
            if transceiver.currentDirection in ("recvonly", "sendrecv"):
                kinds.add("audio" if transceiver.kind == "audio" else "video")
        return kinds

    def stop_sending(self, key: TrackKey) -> None:
        transceiver = self.outgoing.pop(key, None)
        if transceiver is not None:
            transceiver.direction = "inactive"
            self.changed = True
        for ssrc, subscription in list(self.subscriptions.items()):
            if (subscription.track.owner, subscription.track.mid) == key:
                del self.subscriptions[ssrc]

    async def make_offer(self) -> str | None:
        """An offer if something changed and no offer is outstanding (else later, after the
        answer)."""
        if self.closed or self.pc.signalingState != "stable" or not self.changed:
            return None
        if not self.pc.getTransceivers():
            # Nothing to receive yet (an observer in an empty room): an inactive m-line still
            # brings up ICE and DTLS, so later tracks need no new transport.
            self._transceiver("audio", "inactive")
        self.changed = False
        with mapped(MediaErrorCode.WRONG_STATE, "The media connection could not make an offer."):
            await self.pc.setLocalDescription(await self.pc.createOffer())
            self._attach()
            return str(self.pc.localDescription.sdp)

    async def accept_answer(self, sdp: str) -> None:
        if self.pc.signalingState != "have-local-offer":
            raise MediaError(
                MediaErrorCode.WRONG_STATE,
                "The media peer was not waiting for an answer. Reload the page to reconnect.",
            )
        with mapped(MediaErrorCode.BAD_SDP, "Your browser's answer could not be read."):
            answer = SessionDescription.parse(sdp)
        self._check_answer(answer)
        with mapped(MediaErrorCode.BAD_SDP, "Your browser's answer could not be used."):
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    def _check_answer(self, answer: SessionDescription) -> None:
        ours = {t.mid: t for t in self.pc.getTransceivers()}
        for media in answer.media:
            if media.kind not in ("audio", "video") or media.direction not in (
                "sendrecv",
                "sendonly",
            ):
                continue
            transceiver = ours.get(media.rtp.muxId)
            if transceiver is None or transceiver not in self._receiving:
                if not self.may_publish:
                    raise MediaError(
                        MediaErrorCode.OBSERVER_CANNOT_PUBLISH,
                        "Observers receive the session but do not send audio or video. "
                        "Turn your camera and microphone off to observe.",
                    )
                raise MediaError(
                    MediaErrorCode.BAD_SDP,
                    "Your browser's answer sends media where none was asked for. "
                    "Reload the page to reconnect.",
                )

    async def add_candidate(self, candidate: IceCandidate) -> None:
        with mapped(
            MediaErrorCode.BAD_CANDIDATE, "A network address from your browser was not understood."
        ):
            if not candidate.candidate:
                await self.pc.addIceCandidate(None)
                return
            parsed = candidate_from_sdp(candidate.candidate.removeprefix("candidate:"))
            parsed.sdpMid = candidate.sdp_mid
            parsed.sdpMLineIndex = candidate.sdp_m_line_index
            await self.pc.addIceCandidate(parsed)

    def _attach(self) -> None:
        """Once transports exist: take datagrams and RTCP from aiortc (idempotent)."""
        if self.link is not None:
            return
        transceivers = self.pc.getTransceivers()
        if not transceivers:
            return
        dtls = transceivers[0].receiver.transport
        self.link = Link(dtls)
        hooks.intercept_datagrams(dtls, self._on_datagram)
        hooks.intercept_rtcp(dtls, self._on_rtcp)

    def _on_state(self) -> None:
        state = self.pc.connectionState
        if state == "connected":
            self.connected.set()
        elif state == "closed" and not self.closed and self.connected.is_set():
            # Not closed by us: when ICE consent runs out (the member's network went away),
            # aiortc's DTLS transport ends first and the peer connection closes itself; it
            # never says "failed". Lost is lost: the member rebuilds it.
            state = "failed"
        self.wiring.state_changed(self, state)

    # --- aiortc starts a receiver / sender: the forwarder takes over -----------------------

    def _on_receive(
        self, transceiver: RTCRtpTransceiver, kind: Kind
    ) -> Callable[[Any], Awaitable[None]]:
        async def receive(parameters: Any) -> None:
            if self.closed or self.link is None:
                return
            negotiated = negotiated_from(parameters)
            track = self.published.get(negotiated.mid)
            if track is None:
                track = PublishedTrack(
                    owner=self.member,
                    mid=negotiated.mid,
                    kind=kind,
                    rtcp_ssrc=hooks.local_ssrc(transceiver.sender),
                    upstream=self.link,
                    limits=self.limits,
                )
                self.published[negotiated.mid] = track
                track.configure(negotiated)
                self.wiring.published(self, track)
            else:
                track.configure(negotiated)

        return receive

    def _on_send(self, transceiver: RTCRtpTransceiver) -> Callable[[Any], Awaitable[None]]:
        async def send(parameters: Any) -> None:
            # The key, as of now: a reserved publisher's track is renamed when it comes back.
            key = next((k for k, t in self.outgoing.items() if t is transceiver), None)
            if self.closed or key is None:
                return
            ssrc = hooks.local_ssrc(transceiver.sender)
            if ssrc not in self.subscriptions:
                self.wiring.sending(self, key, ssrc, negotiated_from(parameters))

        return send

    # --- the packet path ------------------------------------------------------------------

    def _on_datagram(self, data: bytes) -> bool:
        # RFC 7983 §7: 128-191 is RTP/RTCP; DTLS (20-63) and STUN stay with aiortc and aioice.
        if not data or not 127 < data[0] < 192 or is_rtcp(data) or self.link is None:
            return False
        sessions = hooks.srtp_sessions(self.link.dtls)
        if sessions is None:
            return False
        try:
            plain = sessions[0].unprotect(data)
        except pylibsrtp.Error:
            return True  # not authentic, or a replay: drop
        header = parse_rtp(plain)
        if header is None:
            return True
        track = self._by_ssrc.get(header.ssrc) or self._classify(header)
        if track is not None:
            track.on_rtp(header)
        return True

    def _classify(self, header: RtpHeader) -> PublishedTrack | None:
        """A new SSRC: which m-line is it? By the MID extension, else by payload type."""
        found: PublishedTrack | None = None
        for track in self.published.values():
            negotiated = track.negotiated
            if negotiated is None:
                continue
            mid = header.extensions.get(negotiated.extension_ids.get(URI_MID, -1))
            if mid is not None:
                if mid.decode(errors="replace") == track.mid:
                    found = track
                    break
                continue
            if header.payload_type in negotiated.payload_types or (
                header.payload_type in negotiated.rtx_payload_types
            ):
                found = track
        if found is not None:
            if len(self._by_ssrc) >= MAX_SSRCS:
                self._by_ssrc.clear()
            self._by_ssrc[header.ssrc] = found
        return found

    def _on_rtcp(self, data: bytes) -> None:
        try:
            packets = RtcpPacket.parse(data)
        except ValueError:
            return
        for packet in packets:
            if isinstance(packet, RtcpSrPacket):
                track = self._by_ssrc.get(packet.ssrc)
                if track is not None:
                    track.on_sender_report(packet)
            elif isinstance(packet, RtcpPsfbPacket):
                self._on_payload_feedback(packet)
            elif isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
                subscription = self.subscriptions.get(packet.media_ssrc)
                if subscription is not None:
                    on_feedback(subscription, "nack", lost=list(packet.lost))

    def _on_payload_feedback(self, packet: RtcpPsfbPacket) -> None:
        if packet.fmt == RTCP_PSFB_PLI:
            subscription = self.subscriptions.get(packet.media_ssrc)
            if subscription is not None:
                on_feedback(subscription, "keyframe")
        elif packet.fmt == RTCP_PSFB_FIR:
            # RFC 5104 §4.3.1.1: FCI entries of SSRC (4 bytes), sequence number, reserved.
            for i in range(0, len(packet.fci) - 7, 8):
                ssrc = int.from_bytes(packet.fci[i : i + 4], "big")
                subscription = self.subscriptions.get(ssrc)
                if subscription is not None:
                    on_feedback(subscription, "keyframe")
        elif packet.fmt == RTCP_PSFB_APP:
            try:
                bitrate, ssrcs = unpack_remb_fci(packet.fci)
            except ValueError:
                return
            for ssrc in ssrcs:
                subscription = self.subscriptions.get(ssrc)
                if subscription is not None:
                    on_feedback(subscription, "remb", bitrate=bitrate)

    # --- the end -----------------------------------------------------------------------------

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for track in self.published.values():
            track.close()
        self.published.clear()
        self.subscriptions.clear()
        if self.link is not None:
            self.link.close()
        if self.pc.signalingState == "closed":
            # aiortc is closing it already (its DTLS ended: see `_on_state`). Waiting on that
            # close from here would cancel it half-way if this task were cancelled.
            return
        with mapped(MediaErrorCode.CLOSED, "The media connection did not close cleanly."):
            await self.pc.close()
