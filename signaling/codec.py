"""The one boundary between frames and messages: `parse_*` raise only `ProtocolError`.

The shell turns a `ProtocolError` into an `error {code, message}` reply, or a 1008 close if a client
keeps sending them; nothing else can escape, whatever bytes arrive (DESIGN.md §6).
"""

from __future__ import annotations

from typing import Final, get_args

import msgspec

from signaling.messages import MAX_FRAME, ClientMessage, ServerMessage

_MAX_DETAIL = 200


class ProtocolError(Exception):
    """A frame that is not a valid message. `code` is short and stable, `message` is for humans."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class _Envelope(msgspec.Struct):
    # Only read on the error path, to tell an unknown `type` from a bad field of a known one.
    type: str


_CLIENT_DECODER: Final[msgspec.json.Decoder[ClientMessage]] = msgspec.json.Decoder(ClientMessage)
_SERVER_DECODER: Final[msgspec.json.Decoder[ServerMessage]] = msgspec.json.Decoder(ServerMessage)
_ENVELOPE_DECODER: Final = msgspec.json.Decoder(_Envelope)
_ENCODER: Final = msgspec.json.Encoder()
CLIENT_TYPES: Final = frozenset(str(t.__struct_config__.tag) for t in get_args(ClientMessage))


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def parse_client_message(data: str | bytes) -> ClientMessage:
    """Decode one client frame into a message, or raise `ProtocolError`.

    Codes: `too-big` (over 64 KiB), `bad-json` (not UTF-8 JSON), `unknown-type`, `invalid` (a known
    type with a missing, unknown, mistyped or out-of-bounds field; the message names the field).
    """
    if len(data) > MAX_FRAME:
        raise ProtocolError("too-big", f"a frame is at most {MAX_FRAME} bytes")
    try:
        return _CLIENT_DECODER.decode(data)
    except msgspec.ValidationError as exc:
        raise _invalid(data, exc) from None
    except (msgspec.DecodeError, UnicodeError, RecursionError) as exc:
        # UnicodeError: a `str` frame holding lone surrogates cannot be UTF-8 encoded for decoding.
        # RecursionError: msgspec's guard against deeply nested arrays it has to skip.
        raise ProtocolError("bad-json", _clip(f"not a JSON text: {exc}")) from None


def _invalid(data: str | bytes, exc: msgspec.ValidationError) -> ProtocolError:
    # msgspec stops at the first bad field, before reading the rest: read the whole frame again
    # (skipping everything but `type`) so that a truncated frame is still called `bad-json`.
    try:
        kind = _ENVELOPE_DECODER.decode(data).type
    except msgspec.ValidationError:
        return ProtocolError("invalid", "a message is a JSON object with a string `type`")
    except (msgspec.DecodeError, RecursionError) as syntax:
        return ProtocolError("bad-json", _clip(f"not a JSON text: {syntax}"))
    if kind not in CLIENT_TYPES:
        return ProtocolError("unknown-type", _clip(f"unknown message type {kind!r}"))
    return ProtocolError("invalid", _clip(f"invalid `{kind}` message: {exc}"))


def parse_server_message(data: str | bytes) -> ServerMessage:
    """Decode one server frame (for Python clients and tests); raises only `ProtocolError`."""
    try:
        return _SERVER_DECODER.decode(data)
    except (msgspec.DecodeError, UnicodeError, RecursionError) as exc:
        raise ProtocolError("invalid", _clip(str(exc))) from None


def serialize(message: ClientMessage | ServerMessage) -> str:
    """Encode a message as a JSON text frame; `parse_*(serialize(m)) == m`."""
    return _ENCODER.encode(message).decode()
