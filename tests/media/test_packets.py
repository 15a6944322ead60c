"""RTP headers read and rewritten byte-exactly (RFC 3550 §5.1, RFC 8285, RFC 4588)."""

from __future__ import annotations

import struct

from aiortc.rtp import RtpPacket
from hypothesis import given
from hypothesis import strategies as st

from media.packets import build_rtp, extension_element, parse_rtp, unwrap_rtx
from media.rules import ForwardingRules, Narrowing
from signaling.ids import PeerId


def test_a_rewritten_packet_is_what_aiortc_parses() -> None:
    elements = extension_element(1, b"4") + extension_element(2, b"\x85")
    data = build_rtp(
        marker=True,
        payload_type=97,
        sequence=65535,
        timestamp=0xFFFFFFFF,
        ssrc=0x01020304,
        padding=False,
        elements=elements,
        payload=b"\x90\x80payload",
    )
    theirs = RtpPacket.parse(data)
    assert (theirs.marker, theirs.payload_type, theirs.sequence_number) == (1, 97, 65535)
    assert (theirs.timestamp, theirs.ssrc, theirs.payload) == (
        0xFFFFFFFF,
        0x01020304,
        b"\x90\x80payload",
    )
    ours = parse_rtp(data)
    assert ours is not None
    assert ours.extensions == {1: b"4", 2: b"\x85"}
    assert ours.payload == b"\x90\x80payload"


@given(
    marker=st.booleans(),
    payload_type=st.integers(0, 127),
    sequence=st.integers(0, 0xFFFF),
    timestamp=st.integers(0, 0xFFFFFFFF),
    ssrc=st.integers(0, 0xFFFFFFFF),
    extensions=st.dictionaries(st.integers(1, 14), st.binary(min_size=1, max_size=16), max_size=4),
    payload=st.binary(max_size=64),
)
def test_build_then_parse_round_trips(
    marker: bool,
    payload_type: int,
    sequence: int,
    timestamp: int,
    ssrc: int,
    extensions: dict[int, bytes],
    payload: bytes,
) -> None:
    elements = b"".join(extension_element(i, v) for i, v in extensions.items())
    parsed = parse_rtp(
        build_rtp(
            marker=marker,
            payload_type=payload_type,
            sequence=sequence,
            timestamp=timestamp,
            ssrc=ssrc,
            padding=False,
            elements=elements,
            payload=payload,
        )
    )
    assert parsed is not None
    assert (parsed.marker, parsed.payload_type, parsed.sequence, parsed.timestamp, parsed.ssrc) == (
        marker,
        payload_type,
        sequence,
        timestamp,
        ssrc,
    )
    assert parsed.extensions == extensions
    assert parsed.payload == payload


@given(st.binary(max_size=80))
def test_any_bytes_parse_or_are_refused_without_raising(data: bytes) -> None:
    parse_rtp(data)


def test_two_byte_extensions_and_csrcs_are_read() -> None:
    header = struct.pack("!BBHII", 0x91, 96, 7, 8, 9) + struct.pack("!I", 1234)
    block = bytes([5, 2]) + b"ab"
    data = header + struct.pack("!HH", 0x1000, len(block) // 4) + block + b"xyz"
    parsed = parse_rtp(data)
    assert parsed is not None
    assert parsed.extensions == {5: b"ab"}
    assert parsed.payload == b"xyz"


def test_rtx_is_unwrapped_to_the_original_sequence_number() -> None:
    rtx = parse_rtp(
        build_rtp(
            marker=False,
            payload_type=98,
            sequence=1,
            timestamp=5,
            ssrc=2,
            padding=False,
            elements=b"",
            payload=struct.pack("!H", 4242) + b"frame",
        )
    )
    assert rtx is not None
    original = unwrap_rtx(rtx, payload_type=97, ssrc=77)
    assert original is not None
    assert (original.sequence, original.payload_type, original.ssrc, original.payload) == (
        4242,
        97,
        77,
        b"frame",
    )
    padding_only = parse_rtp(
        build_rtp(
            marker=False,
            payload_type=98,
            sequence=2,
            timestamp=5,
            ssrc=2,
            padding=False,
            elements=b"",
            payload=b"\x00\x01",
        )
    )
    assert padding_only is not None
    assert unwrap_rtx(padding_only, payload_type=97, ssrc=77) is None


def test_rules_default_to_everyone_else_and_narrow_by_rule() -> None:
    mentor, trainee, supervisor = PeerId("m"), PeerId("t"), PeerId("s")
    rules = ForwardingRules(observers=frozenset({supervisor}))
    assert rules.receives(trainee, mentor, "video")
    assert rules.receives(supervisor, mentor, "audio")
    assert not rules.receives(mentor, mentor, "video")
    assert not rules.receives(mentor, supervisor, "video")
    assert not rules.may_publish(supervisor)
    whisper = ForwardingRules(narrowings=(Narrowing(mentor, "audio", frozenset({trainee})),))
    assert whisper.receives(trainee, mentor, "audio")
    assert not whisper.receives(supervisor, mentor, "audio")
    assert whisper.receives(supervisor, mentor, "video")
