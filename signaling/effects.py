"""What the room asks its shell to do. The room never performs I/O; it returns these, in order.

Deliveries name a `ConnectionId`, not a peer: a peer can have a newer connection replacing an older
one (close 4409), and the shell must not hand the newer one's traffic to the older socket.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from signaling.ids import ConnectionId, PeerId, RecordingState, SessionId
from signaling.messages import ChatAudience, IceCandidate, ServerMessage, SessionDescription


@dataclass(frozen=True, slots=True)
class Send:
    """Queue `message` on the connection's bounded outbox (DESIGN.md §6: never await a peer)."""

    to: ConnectionId
    message: ServerMessage


@dataclass(frozen=True, slots=True)
class Close:
    """Close the socket with this code (DESIGN.md §2 close codes) after what is queued before it."""

    to: ConnectionId
    code: int
    reason: str


@dataclass(frozen=True, slots=True)
class Audit:
    """An entry for the audit log (DESIGN.md §5): joins, admissions, consent, recording, and every
    rejected or suspicious attempt (forged signal target, a trainee sending `admit`, …)."""

    action: str
    peer: PeerId | None
    detail: Mapping[str, str]


@dataclass(frozen=True, slots=True)
class StoreMark:
    """Persist a mentor's mark in the session record (`POST /api/sessions/{id}/marks` does the
    same over HTTP)."""

    session: SessionId
    id: str
    label: str
    tags: tuple[str, ...]
    at_ms: int
    by: PeerId


@dataclass(frozen=True, slots=True)
class StoreChat:
    """Persist a chat message in the session record. The room's `chat` sends for it come in the
    same list: the shell holds them until the message is stored, and if storing fails it answers
    the sender (the member `by`) with an error instead."""

    session: SessionId
    id: str
    by: PeerId
    name: str
    text: str
    at: int
    """Wall-clock milliseconds since the Unix epoch, as in `chat`."""
    at_ms: int
    """Milliseconds since the room started: the offset into the session's timeline."""
    audience: ChatAudience = "everyone"
    """Kept with the line: who may read it later (`chat-history`, the record)."""


@dataclass(frozen=True, slots=True)
class SendChatHistory:
    """Send `chat-history` (the session's stored chat) to this connection, after every write of
    the record queued before it, so that no message stored before it is missing. Only the lines
    whose audience is in `audiences`: those this member may read."""

    to: ConnectionId
    audiences: tuple[ChatAudience, ...] = ("everyone",)


@dataclass(frozen=True, slots=True)
class RecordingChanged:
    """The recording state moved: the shell starts or stops the recorder (DESIGN.md §3)."""

    session: SessionId
    state: RecordingState


# --- routed mode: what the shell's media driver does for the `media` peer (DESIGN.md §3) ----------


@dataclass(frozen=True, slots=True)
class MediaJoin:
    """Bring `peer` into the room's media: the `media` peer offers it a fresh connection (on
    admission, and again on resume or takeover: a new socket usually means a new network).
    An `observer` receives every member's tracks and publishes none."""

    session: SessionId
    peer: PeerId
    observer: bool


@dataclass(frozen=True, slots=True)
class MediaLeave:
    """`peer` left the room: its media connection goes, and its tracks with it."""

    session: SessionId
    peer: PeerId


@dataclass(frozen=True, slots=True)
class MediaSignal:
    """A `signal` that `peer` addressed to the `media` peer: its answer, or one ICE candidate."""

    session: SessionId
    peer: PeerId
    description: SessionDescription | None
    candidate: IceCandidate | None


@dataclass(frozen=True, slots=True)
class MediaEnd:
    """The session ended: every media connection of the room goes."""

    session: SessionId


MediaEffect = MediaJoin | MediaLeave | MediaSignal | MediaEnd

Effect = (
    Send
    | Close
    | Audit
    | StoreMark
    | StoreChat
    | SendChatHistory
    | RecordingChanged
    | MediaJoin
    | MediaLeave
    | MediaSignal
    | MediaEnd
)
