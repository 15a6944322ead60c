"""What a media router is told at start (the composition root builds it from PRECEPTOR_*)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from media.speaking import SPEECH_LEVEL
from signaling.messages import IceServer

VideoCodec = Literal["VP8", "H264"]


@dataclass(frozen=True)
class MediaConfig:
    # Always explicit: aiortc's default configuration would send STUN to a public server.
    ice_servers: tuple[IceServer, ...] = ()
    # One video codec per room; H.264 means constrained baseline (42e01f), what Safari sends.
    video_codec: VideoCodec = "VP8"
    # A member whose connection is not up by then is dropped and everything of it freed.
    ice_timeout_s: float = 15.0
    # Per forwarded track: packets held for a viewer that cannot take them (oldest dropped).
    backlog_packets: int = 256
    # Per published track: packets kept to answer NACKs (~7 s of 640x480 VP8 at 30 fps).
    history_packets: int = 512
    # Keyframe requests upstream, per published track, at most this often.
    keyframe_interval_s: float = 0.5
    # The ceiling of the bandwidth estimate (REMB) sent to each video publisher.
    max_bitrate_bps: int = 1_500_000
    rtcp_interval_s: float = 1.0
    # Tracks a member may have forwarded to it in one room (one m-line each).
    max_tracks_per_member: int = 32
    # Forwarded streams (a publisher's track x a viewer) this node carries at most; a member
    # who would take it past this is refused (None: no limit). See bench/README.md, --ceiling.
    max_streams: int | None = None
    # Speaking time (media/speaking.py) is reported this often per room, and when it ends.
    speaking_flush_s: float = 10.0
    # -dBov at or below which an audio packet counts as speech.
    speech_level: int = SPEECH_LEVEL
