"""What nodes tell each other about rooms over the bus (channel ``node:<id>``).

Frames travel as the client sent them and are parsed again by the room's node: they were already
validated once at the edge, and this keeps the envelope free of the message union.
"""

from __future__ import annotations

import msgspec

from server.infra.storage import ChatMessage

__all__ = [
    "ChatStored",
    "CloseConnection",
    "Deliver",
    "EndRoom",
    "Envelope",
    "FeedbackSubmitted",
    "Heartbeat",
    "JoinRoom",
    "LeaveRoom",
    "Member",
    "Membership",
    "ObserversHidden",
    "Rehome",
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
    observer: bool = False
    media_mode: str = "direct"
    restore: Membership | None = None
    """The member this socket was in the room's previous owner: the new owner takes it back
    with its peer id and resume token (issue 13: rooms that heal)."""
    observers_hidden: bool = False
    routed: bool = False
    """The session's room went routed before (on a node that died or drained): an "auto" room
    opened by this join starts routed (issue 11: a room keeps its mode when it moves)."""


class RoomFrame(msgspec.Struct, frozen=True, tag="frame"):
    session: str
    connection: str
    frame: str


class LeaveRoom(msgspec.Struct, frozen=True, tag="disconnect"):
    session: str
    connection: str
    grace_s: float | None = None


class Membership(msgspec.Struct, frozen=True):
    """Who a socket is in its room: kept by the socket's node, to move it to a new owner."""

    peer: str
    token: str
    admitted: bool


class Member(msgspec.Struct, frozen=True, tag="member"):
    """To the socket's node: the socket now holds this membership."""

    connection: str
    membership: Membership


class Rehome(msgspec.Struct, frozen=True, tag="rehome"):
    """To the socket's node: this node no longer runs the socket's room; join its new owner."""

    session: str
    connection: str


class Heartbeat(msgspec.Struct, frozen=True, tag="heartbeat"):
    """On channel ``nodes``, every few hundred ms: the node is alive, and whether it hears its
    own heartbeats (its subscriptions work: messages sent to it now arrive)."""

    node: str
    listening: bool = True


class EndRoom(msgspec.Struct, frozen=True, tag="end"):
    session: str


class ObserversHidden(msgspec.Struct, frozen=True, tag="observers"):
    """To the room's node: the session's observer setting changed (issue 11)."""

    session: str
    hidden: bool


class FeedbackSubmitted(msgspec.Struct, frozen=True, tag="feedback"):
    """To the room's node: tell the form's trainee in the room."""

    session: str
    form: str
    trainee: str


class ChatStored(msgspec.Struct, frozen=True, tag="chat-stored"):
    """To the room's node, from a node the room has left: a chat line said there was stored only
    after the room moved, so the new owner's chat tail (loaded when it opened) lacks it."""

    message: ChatMessage


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
    | Member
    | Rehome
    | Heartbeat
    | EndRoom
    | ObserversHidden
    | FeedbackSubmitted
    | ChatStored
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
