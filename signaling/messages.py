"""Wire messages of the signaling socket (DESIGN.md §2), as frozen msgspec structs.

Every frame is a JSON object whose `type` names the message; msgspec's tagged unions decode it
straight into one of these structs, checking bounds on the way: the room never sees a loose dict.
Client messages forbid unknown fields (a client cannot smuggle a `from` into a `signal`); server
messages do not, so that clients written against an older server keep working as fields are added.

Browser objects keep their camelCase names on the wire (`sdpMid`, `sdpMLineIndex`,
`usernameFragment` of `RTCIceCandidateInit`), so a client can pass `candidate.toJSON()` unchanged.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from signaling.ids import MediaMode, PeerId, RecordingState, Role

MAX_FRAME = 64 * 1024
"""Bytes in one frame; the socket layer enforces it (close 1009), `parse` re-checks."""
MAX_SDP = 60 * 1024
MAX_CANDIDATE = 1024
MAX_CHAT = 2000
MAX_CHAT_HISTORY = 200
MAX_CHAT_HISTORY_BYTES = 256 * 1024
"""A `chat-history` frame stays well inside a socket's 1 MiB outbox (200 long ones would not)."""
MAX_LABEL = 200
MAX_TAGS = 10
MAX_TAG = 40
MAX_DISPLAY_NAME = 80
MAX_PING_ID = 64
MAX_ID = 64
MAX_TOKEN = 128

# A name or label must show something: no control characters, not only spaces.
_PRINTABLE = r"^(?=.*\S)[^\x00-\x1f\x7f]+$"

Id = Annotated[PeerId, msgspec.Meta(min_length=1, max_length=MAX_ID)]
DisplayName = Annotated[
    str, msgspec.Meta(min_length=1, max_length=MAX_DISPLAY_NAME, pattern=_PRINTABLE)
]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_LABEL, pattern=_PRINTABLE)]
Tag = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TAG, pattern=_PRINTABLE)]
Tags = Annotated[tuple[Tag, ...], msgspec.Meta(max_length=MAX_TAGS)]


class _Strict(msgspec.Struct, frozen=True, forbid_unknown_fields=True, omit_defaults=True):
    """Base of everything a client sends: immutable, no unknown fields, absent optionals omitted."""


class SessionDescription(_Strict, frozen=True):
    """`RTCSessionDescriptionInit`: one of JSEP's four description types (RFC 8829,
    "SessionDescriptionType"); `sdp` may be empty for a rollback."""

    type: Literal["offer", "answer", "pranswer", "rollback"]
    sdp: Annotated[str, msgspec.Meta(max_length=MAX_SDP)] = ""


class IceCandidate(_Strict, frozen=True):
    """`RTCIceCandidateInit` (W3C webrtc-pc); an empty `candidate` signals end-of-candidates."""

    candidate: Annotated[str, msgspec.Meta(max_length=MAX_CANDIDATE)]
    sdp_mid: Annotated[str, msgspec.Meta(max_length=MAX_ID)] | None = msgspec.field(
        default=None, name="sdpMid"
    )
    sdp_m_line_index: Annotated[int, msgspec.Meta(ge=0, le=65535)] | None = msgspec.field(
        default=None, name="sdpMLineIndex"
    )
    # RFC 8839 §5.4: ice-ufrag is at most 256 characters.
    username_fragment: Annotated[str, msgspec.Meta(max_length=256)] | None = msgspec.field(
        default=None, name="usernameFragment"
    )


def _one_payload(description: object, candidate: object) -> None:
    # One JSEP step per signal: a description, or one trickled candidate (RFC 8829, "ICE
    # Candidate Trickling"), never both: the receiver applies exactly one of them.
    if (description is None) == (candidate is None):
        raise ValueError("a signal needs exactly one of `description` or `candidate`")


# --- client → server -------------------------------------------------------------------------


class _Client(_Strict, frozen=True, tag_field="type"):
    pass


class Join(_Client, frozen=True, tag="join"):
    display_name: DisplayName | None = None
    resume: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TOKEN)] | None = None


class Signal(_Client, frozen=True, tag="signal"):
    to: Id
    description: SessionDescription | None = None
    candidate: IceCandidate | None = None

    def __post_init__(self) -> None:
        _one_payload(self.description, self.candidate)


class StateUpdate(_Client, frozen=True, tag="state"):
    audio: bool
    video: bool
    screen: bool


class Admit(_Client, frozen=True, tag="admit"):
    peer: Id


class Deny(_Client, frozen=True, tag="deny"):
    peer: Id


class Chat(_Client, frozen=True, tag="chat"):
    text: Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_CHAT)]


class Mark(_Client, frozen=True, tag="mark"):
    # One tap marks a moment; the label is optional (DESIGN.md §2, issue "marks").
    label: Label = ""
    tags: Tags = ()


class RecordingCommand(_Client, frozen=True, tag="recording"):
    action: Literal["start", "stop"]


class Consent(_Client, frozen=True, tag="consent"):
    granted: bool


class Leave(_Client, frozen=True, tag="leave"):
    pass


class Ping(_Client, frozen=True, tag="ping"):
    id: Annotated[str, msgspec.Meta(max_length=MAX_PING_ID)]


ClientMessage = (
    Join
    | Signal
    | StateUpdate
    | Admit
    | Deny
    | Chat
    | Mark
    | RecordingCommand
    | Consent
    | Leave
    | Ping
)

# --- server → client -------------------------------------------------------------------------


class Peer(msgspec.Struct, frozen=True, omit_defaults=True):
    """A member as others see it (DESIGN.md §2)."""

    id: PeerId
    role: Role
    display_name: str
    observer: bool = False
    """Receives everything and publishes nothing (routed mode): shown as observing, never hidden
    from the mentor."""


class IceServer(msgspec.Struct, frozen=True, omit_defaults=True):
    """`RTCIceServer`; the shell mints TURN credentials per member (coturn REST secret)."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None


class _Server(msgspec.Struct, frozen=True, tag_field="type"):
    pass


class RecordingStatus(_Server, frozen=True, tag="recording"):
    """Also embedded in `welcome`, so a client can feed both to one handler."""

    state: RecordingState
    consents: tuple[PeerId, ...]
    """Admitted members who consent, in joining order; the others are the ones still to ask."""


class Welcome(_Server, frozen=True, tag="welcome"):
    peer: PeerId
    role: Role
    display_name: str
    peers: tuple[Peer, ...]
    """Admitted members already present; the newcomer offers to each (DESIGN.md §2)."""
    ice_servers: tuple[IceServer, ...]
    media_mode: MediaMode
    resume: str
    recording: RecordingStatus
    resumed: bool = False
    """True when the join restored an existing membership (same peer id), so it renegotiates with
    everyone in `peers` as if it had just arrived. Either `join {resume}` from the same tab (the
    others were never told this peer left), or a takeover: the same person joined from another
    tab or device, whose older socket is closed with 4409 and whose `resume` token no longer
    counts; the others then hear `peer-left {reason: "replaced"}` and `peer-joined` for the same
    id, so they drop their connection to the old tab and wait for the new tab's offer. One person
    is never two members. The old tab takes the membership back the same way, by joining again."""


class Waiting(_Server, frozen=True, tag="waiting"):
    resume: str
    """As in `welcome`: a guest whose phone drops while waiting keeps its place in the lobby."""


class Lobby(_Server, frozen=True, tag="lobby"):
    waiting: tuple[Peer, ...]


class PeerJoined(_Server, frozen=True, tag="peer-joined"):
    peer: Peer


class PeerLeft(_Server, frozen=True, tag="peer-left"):
    peer: PeerId
    reason: Literal["left", "timeout", "replaced"]
    """`replaced`: the same person took over from another tab; a `peer-joined` for the same id
    follows at once (renegotiate: close the old connection, await the new tab's offer)."""


class PeerStateChanged(_Server, frozen=True, tag="peer-state"):
    peer: PeerId
    audio: bool
    video: bool
    screen: bool


class SignalRelay(_Server, frozen=True, tag="signal", omit_defaults=True):
    from_: PeerId = msgspec.field(name="from")
    description: SessionDescription | None = None
    candidate: IceCandidate | None = None

    def __post_init__(self) -> None:
        _one_payload(self.description, self.candidate)


class MediaModeChanged(_Server, frozen=True, tag="media-mode"):
    mode: MediaMode


ChatAudience = Literal["everyone", "mentors"]
"""Who may read a chat line, decided when it is said and kept with it: `mentors` is the mentor's
side (the mentor, supervisors and, in the record, admins), for a line said by an observer hidden
from trainees and guests; a later change of the setting does not show it to them."""


class ObserversHidden(_Server, frozen=True, tag="observers-hidden"):
    """The session's "hide observers" setting changed during the call: sent to every observer
    in the room (their page says beside the chat who reads what they write, issue 11), never to
    trainees or guests (that observers may be unseen is what the setting keeps from them). An
    observer arriving reads the setting with the session (`GET /api/sessions/{id}`)."""

    hidden: bool
    """True: trainees and guests no longer see the observers, nor what they say from now on."""


class ChatPosted(_Server, frozen=True, tag="chat", omit_defaults=True):
    """Relayed only once stored with the session record (a failed store answers the sender with
    `error {code: "chat-not-saved"}` and relays nothing)."""

    from_: PeerId = msgspec.field(name="from")
    text: str
    at: int
    """Wall-clock time, milliseconds since the Unix epoch (JavaScript's `Date` unit)."""
    name: str
    """The sender's display name when it was sent (a `from` of an earlier room is unknown)."""
    id: str
    audience: ChatAudience = "everyone"
    """`mentors`: the sender was a hidden observer; trainees and guests never get this line."""


class ChatHistory(_Server, frozen=True, tag="chat-history"):
    """Follows every `welcome` (fresh or resumed): the session's stored chat, oldest first: the last
    `MAX_CHAT_HISTORY` messages, fewer if they would take more than `MAX_CHAT_HISTORY_BYTES`. The
    client replaces its list with it. Other messages may come
    between the `welcome` and it; a `chat` that arrives before it is also in it."""

    messages: tuple[ChatPosted, ...]


class FeedbackNotice(_Server, frozen=True, tag="feedback"):
    """A feedback form about this member was submitted: to the form's trainee signed in to their
    own account or, when nobody in the room is, to the admitted guests (the trainee came through
    an invite link). No content: the page fetches the form through the API, which checks who may
    read it."""

    form: str
    state: Literal["submitted"]


class MarkAdded(_Server, frozen=True, tag="mark"):
    id: str
    label: str
    tags: tuple[str, ...]
    at_ms: int
    """Milliseconds since the room started: the offset into the session's timeline."""
    by: PeerId


class ErrorMessage(_Server, frozen=True, tag="error"):
    code: str
    message: str


class Pong(_Server, frozen=True, tag="pong"):
    id: str


ServerMessage = (
    Welcome
    | Waiting
    | Lobby
    | PeerJoined
    | PeerLeft
    | PeerStateChanged
    | SignalRelay
    | MediaModeChanged
    | ObserversHidden
    | RecordingStatus
    | ChatPosted
    | ChatHistory
    | FeedbackNotice
    | MarkAdded
    | ErrorMessage
    | Pong
)
