"""The recorder's frame assembly (media/recording/frames.py): RTP packets, as the network delivers
them (reordered, duplicated, lost, sequence numbers wrapping), back into the coded frames the
sender packetized, never a picture a player cannot decode."""

from __future__ import annotations

import random
import time
from collections.abc import Iterable

from media.recording.frames import Frame, FrameAssembler

Packet = tuple[int, int, bytes]  # sequence, RTP timestamp, payload


def _frames(out: Frame | Iterable[Frame] | None) -> list[Frame]:
    # What one `add` released, whether the assembler answers one frame or several.
    if out is None:
        return []
    return [out] if isinstance(out, Frame) else list(out)


def _vp8(
    count: int, *, keyframes: set[int], parts: int = 3, first_sequence: int = 0
) -> list[tuple[bytes, list[Packet]]]:
    """`count` VP8 frames of `parts` packets each: (the frame's bytes, its packets)."""
    frames: list[tuple[bytes, list[Packet]]] = []
    sequence = first_sequence
    for index in range(count):
        # The first byte of a VP8 frame: bit 0 is 0 for a keyframe (RFC 6386 §9.1).
        data = bytes([0 if index in keyframes else 1]) + f"<frame {index}>".encode() * 40
        size = -(-len(data) // parts)
        packets = []
        for n in range(parts):
            descriptor = b"\x10" if n == 0 else b"\x00"  # S (start of partition 0) on the first
            packets.append(
                (sequence & 0xFFFF, index * 3000, descriptor + data[n * size : (n + 1) * size])
            )
            sequence += 1
        frames.append((data, packets))
    return frames


def _feed(assembler: FrameAssembler, packets: Iterable[Packet]) -> list[Frame]:
    out: list[Frame] = []
    for sequence, timestamp, payload in packets:
        out += _frames(assembler.add(sequence, timestamp, payload))
    return out


def test_reordered_and_repeated_packets_across_a_sequence_wrap_come_out_as_the_frames_sent() -> (
    None
):
    sent = _vp8(40, keyframes={0}, first_sequence=65_500)  # wraps at frame ~12
    packets = [p for _, frame in sent for p in frame]
    shuffle = random.Random(5)  # noqa: S311 - a repeatable shuffle
    for start in range(0, len(packets) - 4, 4):  # reordered within a few packets
        window = packets[start : start + 4]
        shuffle.shuffle(window)
        packets[start : start + 4] = window
    packets[30:30] = [packets[25], packets[26]]  # retransmissions of what already arrived

    out = _feed(FrameAssembler("video", "VP8"), packets)

    # Each frame is released once the next one's packets start: all but the last.
    assert [f.data for f in out] == [data for data, _ in sent[:-1]]
    assert [f.timestamp for f in out] == [i * 3000 for i in range(39)]
    assert [f.keyframe for f in out] == [True] + [False] * 38


def test_a_late_packet_that_fills_a_gap_releases_every_frame_it_completed() -> None:
    sent = _vp8(5, keyframes={0}, parts=1)
    k, a, b, c, d = (frame[0] for _, frame in sent)
    assembler = FrameAssembler("video", "VP8")
    assert _feed(assembler, [k]) == []
    # `a` is late: `b`, `c` and `d` wait behind it.
    assert _feed(assembler, [b, c, d]) == []

    released = _frames(assembler.add(*a))

    # The keyframe, `a`, `b` and `c` at once (`d` until the next frame starts).
    assert [f.data for f in released] == [data for data, _ in sent[:4]]


def test_a_lost_packet_drops_pictures_until_the_next_keyframe() -> None:
    sent = _vp8(80, keyframes={0, 30})
    packets = [p for _, frame in sent for p in frame]
    del packets[5 * 3 + 1]  # the middle of frame 5, never retransmitted
    assembler = FrameAssembler("video", "VP8")

    out = _feed(assembler, packets)

    indexes = [f.data[1:].split(b">")[0].decode() for f in out]
    # Frames 0-4; then the frames behind the hole wait for it (a retransmission could still
    # fill it) until the buffer gives up on it; the pictures after it cannot be decoded
    # without frame 5, so the next one kept is the keyframe, 30.
    assert indexes == [f"<frame {i}" for i in [*range(5), *range(30, 79)]]
    assert out[5].keyframe


def test_an_h264_frame_is_told_keyframe_or_not_in_time_linear_in_its_size() -> None:
    # 120 KB frames (a high-bitrate H.264 camera's keyframes; 100 packets, within the 128 the
    # assembler holds) in FU-A fragments (RFC 6184 §5.8): an IDR (NAL type 5), then predicted
    # slices (type 1).
    def fragments(nal_type: int, size: int, sequence: int, timestamp: int) -> list[Packet]:
        body = bytes(range(1, 256)) * (size // 255)
        packets = []
        for at in range(0, len(body), 1200):
            start, end = at == 0, at + 1200 >= len(body)
            indicator = 0x60 | 28  # NRI 3, FU-A
            header = (0x80 if start else 0) | (0x40 if end else 0) | nal_type
            packets.append((sequence, timestamp, bytes([indicator, header]) + body[at : at + 1200]))
            sequence += 1
        return packets

    packets: list[Packet] = []
    for index in range(20):
        packets += fragments(5 if index == 0 else 1, 120_000, len(packets), index * 3000)
    assembler = FrameAssembler("video", "H264")

    started = time.thread_time()
    out = _feed(assembler, packets)
    spent = time.thread_time() - started

    assert [f.keyframe for f in out] == [True] + [False] * 18
    # Scanning each byte in Python took ~25 ms per frame (~0.5 s here), holding the GIL.
    assert spent < 0.2, f"{spent:.3f} s of CPU to assemble 2.3 MB"


def test_a_keyframe_of_hundreds_of_packets_is_recorded() -> None:
    """A high-bitrate camera's keyframe runs to hundreds of packets (~1,200 bytes each): it
    and the frames after it come out whole (a window of 128 packets dropped them all)."""
    sent = _vp8(3, keyframes={0}, parts=1)
    big = bytes([0]) + bytes(range(256)) * 1_200  # ~300 KB: 300 packets of ~1 KB
    parts = 300
    size = -(-len(big) // parts)
    keyframe = [
        (n, 0, (b"\x10" if n == 0 else b"\x00") + big[n * size : (n + 1) * size])
        for n in range(parts)
    ]
    after = [
        (parts + i, (i + 1) * 3000, payload)
        for i, (_, _, payload) in enumerate(p for _, frame in sent[1:] for p in frame)
    ]
    out = _feed(FrameAssembler("video", "VP8"), [*keyframe, *after])
    assert [f.data for f in out] == [big, sent[1][0]]
    assert out[0].keyframe
