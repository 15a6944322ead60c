"""Real VP8 and Opus RTP, made with aiortc's own encoders and packetizers, for the recorder's
tests and bench/recording.py: what a browser would send, minus the network.

The picture changes every frame (a moving bar over a grey level) so the encoder keeps sending
real data, and `signature` is a run of the first keyframe's coded bytes: a sealed file must
never contain it.
"""

from __future__ import annotations

import fractions
import itertools
import os
from collections.abc import Iterator
from dataclasses import dataclass

from aiortc.codecs.opus import OpusEncoder
from aiortc.codecs.vpx import Vp8Encoder
from av import AudioFrame, VideoFrame

from media.packets import RtpHeader

VIDEO_SSRC, AUDIO_SSRC = 0x1111, 0x2222
_NTP_EPOCH_OFFSET = 2_208_988_800


@dataclass(frozen=True)
class Sent:
    at: float  # media seconds since the start, when a browser would send it
    kind: str
    header: RtpHeader | None = None
    report: tuple[int, int] | None = None  # sender report: NTP timestamp, RTP timestamp


def _ntp(seconds: float) -> int:
    return int((seconds + _NTP_EPOCH_OFFSET) * 2**32)


def _video_frame(index: int, width: int, height: int, noise: bool) -> VideoFrame:
    frame = VideoFrame(width=width, height=height)
    bar = (index * 4) % (width - 16)
    size = frame.planes[0].buffer_size
    luma = bytearray([90]) * size
    stride = frame.planes[0].line_size
    if noise:
        # A noisy patch (a quarter of each side) keeps the encoder at a camera's bitrate.
        patch = width // 4
        for row in range(height // 4):
            luma[row * stride : row * stride + patch] = os.urandom(patch)
    for row in range(height):
        luma[row * stride + bar : row * stride + bar + 16] = b"\xf0" * 16
    frame.planes[0].update(bytes(luma))
    for plane in frame.planes[1:]:
        plane.update(bytes([128]) * plane.buffer_size)
    frame.pts, frame.time_base = index * 3000, fractions.Fraction(1, 90000)
    return frame


def _audio_frame(index: int) -> AudioFrame:
    frame = AudioFrame(format="s16", layout="stereo", samples=960)
    tone = bytes((index * 7 + i) % 64 for i in range(960 * 4))
    frame.planes[0].update(tone)
    frame.sample_rate = 48000
    frame.pts, frame.time_base = index * 960, fractions.Fraction(1, 48000)
    return frame


class Source:
    """`seconds` of one publisher: 30 fps VP8 and 20 ms Opus packets, in sending order."""

    def __init__(
        self, seconds: float, width: int = 320, height: int = 240, *, noise: bool = False
    ) -> None:
        self.seconds, self.width, self.height, self.noise = seconds, width, height, noise
        self.signature = b""
        self.keyframe_interval = 90  # a browser's periodic keyframes, every 3 s here

    def packets(self) -> Iterator[Sent]:
        video, audio = Vp8Encoder(), OpusEncoder()
        vseq, aseq = itertools.count(1000), itertools.count(5000)
        frames = int(self.seconds * 30)
        audio_index = 0
        for index in range(frames):
            at = index / 30
            if index % 30 == 0:  # a sender report a second, as browsers send them
                yield Sent(at, "video", report=(_ntp(at), (index * 3000) & 0xFFFFFFFF))
                rtp = (audio_index * 960) & 0xFFFFFFFF
                yield Sent(at, "audio", report=(_ntp(audio_index * 0.02), rtp))
            payloads, timestamp = video.encode(
                _video_frame(index, self.width, self.height, self.noise),
                force_keyframe=index % self.keyframe_interval == 0,
            )
            if not self.signature:
                self.signature = payloads[0][-24:]
            for n, payload in enumerate(payloads):
                header = RtpHeader(
                    marker=n == len(payloads) - 1,
                    payload_type=96,
                    sequence=next(vseq) & 0xFFFF,
                    timestamp=timestamp,
                    ssrc=VIDEO_SSRC,
                    padding=False,
                    extensions={},
                    payload=payload,
                )
                yield Sent(at, "video", header)
            while audio_index * 0.02 < at + 1 / 30 and audio_index * 0.02 < self.seconds:
                (payload,), timestamp = audio.encode(_audio_frame(audio_index))
                header = RtpHeader(
                    marker=False,
                    payload_type=111,
                    sequence=next(aseq) & 0xFFFF,
                    timestamp=timestamp,
                    ssrc=AUDIO_SSRC,
                    padding=False,
                    extensions={},
                    payload=payload,
                )
                yield Sent(audio_index * 0.02, "audio", header)
                audio_index += 1
