"""Coded frames into a container with PyAV — muxing only: no codec is opened for video, and
audio's only to produce its Opus header (RFC 7845 §5.1) for the file.

Live files are written as they come, crash-tolerant: WebM with ~1 s clusters, each flushed when it
closes (VP8 + Opus), or MPEG-TS (H.264 + Opus), whose packets stand alone. `finalize` copies one
into the file supervisors play — a seekable WebM (cues and duration) or MP4 — and measures it.
Blocking: run in a worker thread.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from media.recording.sealed import Keyring, SealedReader, SealedWriter

__all__ = ["Finished", "LiveFile", "finalize"]

_MS = Fraction(1, 1000)
# cluster_time_limit: a new cluster at least every second, so a crash loses at most ~1 s.
_LIVE_WEBM = {"flush_packets": "1", "cluster_time_limit": "1000", "live": "1"}
_LIVE_TS = {"flush_packets": "1"}


@dataclass(frozen=True)
class Finished:
    """What the record keeps about a playable file."""

    duration_s: float
    size: int  # plaintext bytes
    codecs: tuple[str, ...]
    sha256: str  # of the plaintext
    container: str  # "webm" or "mp4"


class LiveFile:
    """One publisher's streams of one segment, written as they arrive."""

    def __init__(
        self,
        path: Path,
        keyring: Keyring,
        *,
        video: tuple[str, int, int] | None,  # codec, width, height
        audio: bool,
    ) -> None:
        self._sink = SealedWriter(path, keyring)
        h264 = video is not None and video[0] == "H264"
        self._container: Any = av.open(
            self._sink,
            "w",
            format="mpegts" if h264 else "webm",
            options=_LIVE_TS if h264 else _LIVE_WEBM,
        )
        self.streams: dict[str, Any] = {}
        try:
            if video is not None:
                codec, width, height = video
                stream = self._container.add_mux_stream(codec.lower(), width=width, height=height)
                stream.time_base = _MS
                self.streams["video"] = stream
            if audio:
                # An encoder context only for its extradata (OpusHead); it never encodes.
                stream = self._container.add_stream("libopus", rate=48000, layout="stereo")
                stream.time_base = _MS
                self.streams["audio"] = stream
            self._container.start_encoding()
        except BaseException:
            self.close()
            raise
        self._last: dict[str, int] = {}

    def write(self, kind: str, data: bytes, at_s: float, keyframe: bool) -> None:
        stream = self.streams.get(kind)
        if stream is None:
            return
        pts = max(round(at_s * 1000), self._last.get(kind, -1) + 1)
        self._last[kind] = pts
        packet = av.Packet(data)
        packet.pts = packet.dts = pts
        packet.time_base = _MS
        packet.stream = stream
        packet.is_keyframe = keyframe
        self._container.mux(packet)
        # What the muxer handed over (a closed cluster, every ~1 s) is sealed and on disk now;
        # between clusters this does nothing.
        self._sink.flush()

    @property
    def duration_s(self) -> float:
        return max(self._last.values(), default=0) / 1000

    def close(self) -> None:
        try:
            self._container.close()
        finally:
            self._sink.close()


def finalize(live: Path, final: Path, keyring: Keyring) -> Finished:
    """Copy a live file (whole, or cut short by a crash) into a seekable one and measure it."""
    with SealedReader(live, keyring, tolerate_torn_tail=True) as source:
        source_container: Any = av.open(source, "r")
        try:
            h264 = any(s.codec_context.name == "h264" for s in source_container.streams)
            sink = SealedWriter(final, keyring)
            out: Any = av.open(sink, "w", format="mp4" if h264 else "webm")
            try:
                copies = {
                    s.index: out.add_stream_from_template(s) for s in source_container.streams
                }
                end = 0.0
                for packet in source_container.demux():
                    if packet.dts is None or packet.stream.index not in copies:
                        continue  # the demuxer's end-of-stream marker
                    span = packet.pts + (packet.duration or 0)
                    end = max(end, float(span * packet.time_base))
                    packet.stream = copies[packet.stream.index]
                    out.mux(packet)
                codecs = tuple(s.codec_context.name for s in source_container.streams)
            finally:
                out.close()
                sink.close()
        finally:
            source_container.close()
    digest = hashlib.sha256()
    with SealedReader(final, keyring) as reader:
        while block := reader.read(1 << 20):
            digest.update(block)
        size = reader.size
    return Finished(end, size, codecs, digest.hexdigest(), "mp4" if h264 else "webm")
