"""What nodes tell each other about rooms over the bus (channel ``node:<id>``).

Frames travel as the client sent them and are parsed again by the room's node: they were already
validated once at the edge, and this keeps the envelope free of the message union.
"""

from __future__ import annotations

import msgspec

__all__ = [
    "CloseConnection",
    "Deliver",
    "EndRoom",
    "Envelope",
    "FeedbackSubmitted",
    "JoinRoom",
    "LeaveRoom",
    "RevokeSockets",
    "RoomFrame",
    "decode",
    "encode",
]


class JoinRoom(msgspec.Struct, frozen=True, tag="join"):
    session: str
    connection: str
    subject: str
    role: str
    display_name: str
    needs_admission: bool
    frame: str
    ice_servers: str
    session_started_at: float | None = None
    guest: bool = False


class RoomFrame(msgspec.Struct, frozen=True, tag="frame"):
    session: str
    connection: str
    frame: str


class LeaveRoom(msgspec.Struct, frozen=True, tag="disconnect"):
    session: str
    connection: str


class EndRoom(msgspec.Struct, frozen=True, tag="end"):
    session: str


class FeedbackSubmitted(msgspec.Struct, frozen=True, tag="feedback"):
    """To the room's node: tell the form's trainee in the room."""

    session: str
    form: str
    trainee: str


class Deliver(msgspec.Struct, frozen=True, tag="deliver"):
    connection: str
    text: str


class CloseConnection(msgspec.Struct, frozen=True, tag="close"):
    connection: str
    code: int
    reason: str


class RevokeSockets(msgspec.Struct, frozen=True, tag="revoke"):
    """Sent to every node: close the sockets of a signed-out login or a disabled account."""

    subject: str | None = None
    login: str | None = None


Envelope = (
    JoinRoom
    | RoomFrame
    | LeaveRoom
    | EndRoom
    | FeedbackSubmitted
    | Deliver
    | CloseConnection
    | RevokeSockets
)

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Envelope)


def encode(envelope: Envelope) -> bytes:
    return _encoder.encode(envelope)


def decode(data: bytes) -> Envelope:
    envelope: Envelope = _decoder.decode(data)
    return envelope
