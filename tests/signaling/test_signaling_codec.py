"""The wire boundary: every client message parses, bounds hold, errors are only `ProtocolError`."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from signaling import (
    MAX_FRAME,
    Admit,
    Chat,
    ChatHistory,
    ChatPosted,
    Consent,
    Deny,
    ErrorMessage,
    FeedbackNotice,
    IceCandidate,
    IceServer,
    Join,
    Leave,
    Lobby,
    Mark,
    MarkAdded,
    MediaMode,
    MediaModeChanged,
    ObserversHidden,
    Peer,
    PeerId,
    PeerJoined,
    PeerLeft,
    PeerStateChanged,
    Ping,
    Pong,
    ProtocolError,
    RecordingCommand,
    RecordingState,
    RecordingStatus,
    Role,
    SessionDescription,
    Signal,
    SignalRelay,
    StateUpdate,
    Waiting,
    Welcome,
    parse_client_message,
    parse_server_message,
    serialize,
)

OFFER = SessionDescription(type="offer", sdp="v=0\r\n")
CANDIDATE = IceCandidate(
    candidate="candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host",
    sdp_mid="0",
    sdp_m_line_index=0,
    username_fragment="abcd",
)


def error_of(frame: str | bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        parse_client_message(frame)
    return caught.value


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ({"type": "join"}, Join()),
        ({"type": "join", "display_name": "Ann", "resume": "tok"}, Join("Ann", "tok")),
        ({"type": "signal", "to": "p1", "description": {"type": "offer", "sdp": "v=0\r\n"}},
         Signal(to=PeerId("p1"), description=OFFER)),
        ({"type": "signal", "to": "p1", "description": {"type": "rollback"}},
         Signal(to=PeerId("p1"), description=SessionDescription(type="rollback"))),
        ({"type": "signal", "to": "p1", "candidate": {"candidate": ""}},
         Signal(to=PeerId("p1"), candidate=IceCandidate(candidate=""))),
        ({"type": "state", "audio": True, "video": False, "screen": False},
         StateUpdate(audio=True, video=False, screen=False)),
        ({"type": "admit", "peer": "p2"}, Admit(peer=PeerId("p2"))),
        ({"type": "deny", "peer": "p2"}, Deny(peer=PeerId("p2"))),
        ({"type": "chat", "text": "hello\nthere"}, Chat(text="hello\nthere")),
        ({"type": "mark", "label": "Good closure"}, Mark(label="Good closure")),
        ({"type": "mark", "label": "x", "tags": ["a", "b"]}, Mark(label="x", tags=("a", "b"))),
        ({"type": "recording", "action": "start"}, RecordingCommand(action="start")),
        ({"type": "consent", "granted": False}, Consent(granted=False)),
        ({"type": "leave"}, Leave()),
        ({"type": "ping", "id": "42"}, Ping(id="42")),
    ],
)  # fmt: skip
def test_parses_every_client_message(frame: dict[str, object], expected: object) -> None:
    assert parse_client_message(json.dumps(frame)) == expected
    assert parse_client_message(json.dumps(frame).encode()) == expected


def test_candidate_keeps_browser_camel_case_on_the_wire() -> None:
    # What `RTCIceCandidate.toJSON()` produces in a browser.
    frame = {
        "type": "signal",
        "to": "p1",
        "candidate": {
            "candidate": CANDIDATE.candidate,
            "sdpMid": "0",
            "sdpMLineIndex": 0,
            "usernameFragment": "abcd",
        },
    }
    message = parse_client_message(json.dumps(frame))
    assert message == Signal(to=PeerId("p1"), candidate=CANDIDATE)
    assert json.loads(serialize(message)) == frame


def test_absent_optionals_are_omitted_when_serialized() -> None:
    relay = SignalRelay(from_=PeerId("p1"), candidate=IceCandidate(candidate="c"))
    assert json.loads(serialize(relay)) == {
        "type": "signal",
        "from": "p1",
        "candidate": {"candidate": "c"},
    }


@pytest.mark.parametrize(
    ("frame", "code", "names"),
    [
        (b"\xff\xfe", "bad-json", "JSON"),
        ("not json", "bad-json", "JSON"),
        ('{"type": "chat", "text": "a"', "bad-json", "truncated"),
        ('{"type": "nope", ', "bad-json", "truncated"),
        ("\ud800", "bad-json", "surrogates"),
        ('{"x": ' + "[" * 5000 + "]" * 5000 + ', "type": "chat"}', "bad-json", "recursion"),
        ("[]", "invalid", "`type`"),
        ("{}", "invalid", "`type`"),
        ('{"type": 3}', "invalid", "`type`"),
        ('{"type": "teleport"}', "unknown-type", "teleport"),
        ('{"type": "' + "x" * 500 + '"}', "unknown-type", "…"),
        ('{"type": "join", "from": "p9"}', "invalid", "`from`"),
        ('{"type": "signal", "to": "p1"}', "invalid", "exactly one"),
        ('{"type": "signal", "to": "p1", "from": "p2", "candidate": {"candidate": ""}}',
         "invalid", "`from`"),
        ('{"type": "signal", "to": "", "candidate": {"candidate": ""}}', "invalid", "$.to"),
        ('{"type": "signal", "to": "p", "description": {"type": "offer"}, '
         '"candidate": {"candidate": ""}}', "invalid", "exactly one"),
        ('{"type": "signal", "to": "p", "description": {"type": "bogus", "sdp": ""}}',
         "invalid", "$.description.type"),
        ('{"type": "signal", "to": "p", "candidate": {"candidate": "", "sdpMLineIndex": -1}}',
         "invalid", "sdpMLineIndex"),
        ('{"type": "state", "audio": "yes", "video": true, "screen": false}', "invalid", "$.audio"),
        ('{"type": "state", "audio": true}', "invalid", "video"),
        ('{"type": "chat", "text": ""}', "invalid", "$.text"),
        ('{"type": "mark", "label": "   "}', "invalid", "$.label"),
        ('{"type": "mark", "label": "a\\u0000b"}', "invalid", "$.label"),
        ('{"type": "recording", "action": "pause"}', "invalid", "$.action"),
        ('{"type": "join", "display_name": ""}', "invalid", "$.display_name"),
        ('{"type": "consent", "granted": 1}', "invalid", "$.granted"),
    ],
)  # fmt: skip
def test_rejects_with_a_code_and_names_the_field(frame: str | bytes, code: str, names: str) -> None:
    error = error_of(frame)
    assert error.code == code
    assert names in error.message
    assert len(error.message) <= 200
    assert str(error).startswith(code)


@pytest.mark.parametrize(
    ("field", "limit", "make"),
    [
        ("chat", 2000, lambda n: {"type": "chat", "text": "x" * n}),
        ("label", 200, lambda n: {"type": "mark", "label": "x" * n}),
        ("tag", 40, lambda n: {"type": "mark", "label": "l", "tags": ["x" * n]}),
        ("tags", 10, lambda n: {"type": "mark", "label": "l", "tags": ["t"] * n}),
        ("display_name", 80, lambda n: {"type": "join", "display_name": "x" * n}),
        ("ping", 64, lambda n: {"type": "ping", "id": "x" * n}),
        ("sdp", 60 * 1024,
         lambda n: {"type": "signal", "to": "p", "description": {"type": "offer", "sdp": "x" * n}}),
        ("candidate", 1024,
         lambda n: {"type": "signal", "to": "p", "candidate": {"candidate": "x" * n}}),
    ],
)  # fmt: skip
def test_bounds_are_inclusive(field: str, limit: int, make: Callable[[int], object]) -> None:
    """`make(n)` builds a frame with n units (characters, items) of the bounded field."""
    parse_client_message(json.dumps(make(limit)))
    error = error_of(json.dumps(make(limit + 1)))
    assert error.code == "invalid", field


def test_frames_over_64_kib_are_too_big() -> None:
    frame = json.dumps({"type": "chat", "text": "x"}).encode() + b" " * MAX_FRAME
    assert error_of(frame).code == "too-big"


PEER = Peer(id=PeerId("p1"), role=Role.MENTOR, display_name="Dr. A")
SERVER_MESSAGES = [
    Welcome(
        peer=PeerId("p2"),
        role=Role.TRAINEE,
        display_name="T",
        peers=(PEER,),
        ice_servers=(IceServer(urls=("stun:stun.example.org",)),),
        media_mode=MediaMode.DIRECT,
        resume="tok",
        recording=RecordingStatus(state=RecordingState.OFF, consents=()),
    ),
    Waiting(resume="tok"),
    Lobby(waiting=(PEER,)),
    PeerJoined(peer=PEER),
    PeerLeft(peer=PeerId("p1"), reason="timeout"),
    PeerStateChanged(peer=PeerId("p1"), audio=True, video=False, screen=True),
    SignalRelay(from_=PeerId("p1"), description=OFFER),
    MediaModeChanged(mode=MediaMode.ROUTED),
    ObserversHidden(hidden=True),
    RecordingStatus(state=RecordingState.PENDING_CONSENT, consents=(PeerId("p1"),)),
    ChatPosted(from_=PeerId("p1"), text="hi", at=1_700_000_000_000, name="Sam", id="c1"),
    ChatHistory(messages=(ChatPosted(from_=PeerId("p1"), text="hi", at=1, name="Sam", id="c1"),)),
    FeedbackNotice(form="f1", state="submitted"),
    PeerLeft(peer=PeerId("p1"), reason="replaced"),
    MarkAdded(id="m1", label="l", tags=("t",), at_ms=5, by=PeerId("p1")),
    ErrorMessage(code="forbidden", message="no"),
    Pong(id="1"),
]


@pytest.mark.parametrize("message", SERVER_MESSAGES, ids=lambda m: type(m).__name__)
def test_server_messages_round_trip(message: object) -> None:
    frame = serialize(message)  # type: ignore[arg-type]
    assert parse_server_message(frame) == message


def test_server_message_wire_names() -> None:
    chat = json.loads(serialize(ChatPosted(from_=PeerId("p1"), text="x", at=1, name="S", id="c")))
    assert (chat["from"], chat["name"], chat["id"]) == ("p1", "S", "c")
    history = json.loads(serialize(ChatHistory(messages=())))
    assert history == {"type": "chat-history", "messages": []}
    notice = json.loads(serialize(FeedbackNotice(form="f1", state="submitted")))
    assert notice == {"type": "feedback", "form": "f1", "state": "submitted"}
    assert json.loads(serialize(PeerLeft(peer=PeerId("p"), reason="left")))["type"] == "peer-left"
    hidden = json.loads(serialize(ObserversHidden(hidden=False)))
    assert hidden == {"type": "observers-hidden", "hidden": False}
    welcome = json.loads(serialize(SERVER_MESSAGES[0]))  # type: ignore[arg-type]
    assert welcome["recording"] == {"type": "recording", "state": "off", "consents": []}


def test_signal_relay_also_needs_exactly_one_payload() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        SignalRelay(from_=PeerId("p1"))


@pytest.mark.parametrize("frame", ["{", '{"type": "welcome"}', "\ud800", "[" * 5000])
def test_parse_server_message_raises_only_protocol_error(frame: str) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_server_message(frame)
    assert caught.value.code == "invalid"
