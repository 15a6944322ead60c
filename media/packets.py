"""RTP headers read and rewritten without touching the payload (RFC 3550 §5.1, RFC 8285).

The forwarder never depacketizes: it reads the 12-byte fixed header and the header extension
block, and writes a new header per viewer in front of the same payload bytes.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

_FIXED = struct.Struct("!BBHII")
_ONE_BYTE_PROFILE = 0xBEDE
_TWO_BYTE_PROFILE_MASK = 0xFFF0
_TWO_BYTE_PROFILE = 0x1000

URI_MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
URI_AUDIO_LEVEL = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
URI_ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"


@dataclass(slots=True)
class RtpHeader:
    """The fields of one RTP packet the forwarder uses; `payload` includes any padding."""

    marker: bool
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    padding: bool
    extensions: dict[int, bytes]
    payload: bytes


def parse_rtp(data: bytes) -> RtpHeader | None:
    """The header of an (unprotected) RTP packet, or None if it is not one we can forward."""
    if len(data) < 12:
        return None
    first, second, sequence, timestamp, ssrc = _FIXED.unpack_from(data)
    if first >> 6 != 2:
        return None
    offset = 12 + 4 * (first & 0x0F)
    extensions: dict[int, bytes] = {}
    if first & 0x10:
        if len(data) < offset + 4:
            return None
        profile, words = struct.unpack_from("!HH", data, offset)
        start = offset + 4
        offset = start + 4 * words
        if len(data) < offset:
            return None
        _read_extensions(profile, data[start:offset], extensions)
    if len(data) < offset:
        return None
    return RtpHeader(
        marker=bool(second & 0x80),
        payload_type=second & 0x7F,
        sequence=sequence,
        timestamp=timestamp,
        ssrc=ssrc,
        padding=bool(first & 0x20),
        extensions=extensions,
        payload=data[offset:],
    )


def _read_extensions(profile: int, block: bytes, into: dict[int, bytes]) -> None:
    # RFC 8285 §4.2 (one-byte) and §4.3 (two-byte) elements; unknown profiles are ignored.
    i, end = 0, len(block)
    if profile == _ONE_BYTE_PROFILE:
        while i < end:
            byte = block[i]
            if byte == 0:  # padding
                i += 1
                continue
            ext_id, length = byte >> 4, (byte & 0x0F) + 1
            if ext_id == 15:
                return
            into[ext_id] = block[i + 1 : i + 1 + length]
            i += 1 + length
    elif profile & _TWO_BYTE_PROFILE_MASK == _TWO_BYTE_PROFILE:
        while i + 1 < end:
            ext_id = block[i]
            if ext_id == 0:
                i += 1
                continue
            length = block[i + 1]
            into[ext_id] = block[i + 2 : i + 2 + length]
            i += 2 + length


def extension_element(ext_id: int, value: bytes) -> bytes:
    """One one-byte-header element (RFC 8285 §4.2): ids 1-14, values of 1-16 bytes."""
    if not 1 <= ext_id <= 14 or not 1 <= len(value) <= 16:
        return b""
    return bytes([(ext_id << 4) | (len(value) - 1)]) + value


def build_rtp(
    *,
    marker: bool,
    payload_type: int,
    sequence: int,
    timestamp: int,
    ssrc: int,
    padding: bool,
    elements: bytes,
    payload: bytes,
) -> bytes:
    """A packet with the given header fields, one-byte extension `elements`, then `payload`."""
    first = 0x80 | (0x20 if padding else 0)
    if elements:
        first |= 0x10
        pad = -len(elements) % 4
        block = elements + b"\x00" * pad
        ext = struct.pack("!HH", _ONE_BYTE_PROFILE, len(block) // 4) + block
    else:
        ext = b""
    second = (0x80 if marker else 0) | payload_type
    return _FIXED.pack(first, second, sequence, timestamp, ssrc) + ext + payload


def unwrap_rtx(header: RtpHeader, *, payload_type: int, ssrc: int) -> RtpHeader | None:
    """The original packet inside an RTX retransmission (RFC 4588 §4), or None for padding."""
    if len(header.payload) <= 2:
        return None
    (original_sequence,) = struct.unpack_from("!H", header.payload)
    return RtpHeader(
        marker=header.marker,
        payload_type=payload_type,
        sequence=original_sequence,
        timestamp=header.timestamp,
        ssrc=ssrc,
        padding=header.padding,
        extensions=header.extensions,
        payload=header.payload[2:],
    )


def is_rtcp(data: bytes) -> bool:
    """RFC 5761 §4: RTCP packet types 192-223 share the port with RTP."""
    return len(data) >= 2 and 192 <= data[1] <= 223
