"""Hypothesis: the parser only ever returns a message or raises `ProtocolError`, and every valid
client message survives `serialize` → `parse_client_message` unchanged."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signaling import (
    CLIENT_TYPES,
    Admit,
    Chat,
    ClientMessage,
    Consent,
    Deny,
    IceCandidate,
    Join,
    Leave,
    Mark,
    PeerId,
    Ping,
    ProtocolError,
    RecordingCommand,
    SessionDescription,
    Signal,
    StateUpdate,
    parse_client_message,
    serialize,
)

# No example database: these tests leave nothing behind in the working tree.
SETTINGS = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# Anything but lone surrogates (which JSON text cannot carry as UTF-8).
any_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=30)
printable = st.text(st.characters(exclude_categories=["Cs", "Cc"]), min_size=1, max_size=30).filter(
    lambda s: s.strip() != ""
)
ids = st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=64).map(PeerId)

descriptions = st.builds(
    SessionDescription,
    type=st.sampled_from(["offer", "answer", "pranswer", "rollback"]),
    sdp=any_text,
)
candidates = st.builds(
    IceCandidate,
    candidate=any_text,
    sdp_mid=st.none() | st.text(max_size=64),
    sdp_m_line_index=st.none() | st.integers(0, 65535),
    username_fragment=st.none() | st.text(max_size=256),
)
client_messages: st.SearchStrategy[ClientMessage] = st.one_of(
    st.builds(
        Join,
        display_name=st.none() | printable,
        resume=st.none() | st.text(min_size=1, max_size=128),
    ),
    st.builds(Signal, to=ids, description=descriptions),
    st.builds(Signal, to=ids, candidate=candidates),
    st.builds(StateUpdate, audio=st.booleans(), video=st.booleans(), screen=st.booleans()),
    st.builds(Admit, peer=ids),
    st.builds(Deny, peer=ids),
    st.builds(Chat, text=any_text.filter(bool)),
    st.builds(Mark, label=printable, tags=st.lists(printable, max_size=10).map(tuple)),
    st.builds(RecordingCommand, action=st.sampled_from(["start", "stop"])),
    st.builds(Consent, granted=st.booleans()),
    st.just(Leave()),
    st.builds(Ping, id=st.text(max_size=64)),
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | any_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=12,
)
field_names = st.sampled_from(
    [
        *("to", "description", "candidate", "text", "label", "tags", "peer", "id", "from"),
        *("audio", "video", "screen", "action", "granted", "display_name", "resume", "type"),
    ]
)
# Objects shaped like messages: a real or made-up `type` and plausible or random fields.
message_like = st.builds(
    lambda kind, fields: {"type": kind, **fields},
    st.sampled_from(sorted(CLIENT_TYPES)) | any_text,
    st.dictionaries(field_names | any_text, json_values, max_size=5),
)


def parses_or_protocol_error(frame: str | bytes) -> None:
    try:
        message = parse_client_message(frame)
    except ProtocolError as error:
        code = error.code
    else:
        # Whatever parses is a complete, valid message that serializes back to itself.
        assert parse_client_message(serialize(message)) == message
        return
    assert code in {"bad-json", "too-big", "unknown-type", "invalid"}


@SETTINGS
@given(st.binary(max_size=200))
def test_arbitrary_bytes(frame: bytes) -> None:
    parses_or_protocol_error(frame)


@SETTINGS
@given(st.text(max_size=200))
def test_arbitrary_text_including_surrogates(frame: str) -> None:
    parses_or_protocol_error(frame)


@SETTINGS
@given(json_values | message_like)
def test_arbitrary_json_values(value: object) -> None:
    parses_or_protocol_error(json.dumps(value))


@SETTINGS
@given(client_messages, st.integers(0, 40), st.binary(min_size=1, max_size=3))
def test_mangled_valid_frames(message: ClientMessage, cut: int, junk: bytes) -> None:
    frame = serialize(message).encode()
    parses_or_protocol_error(frame[:cut])
    parses_or_protocol_error(frame[:cut] + junk + frame[cut:])


@SETTINGS
@given(client_messages)
def test_valid_messages_round_trip(message: ClientMessage) -> None:
    assert parse_client_message(serialize(message)) == message
    assert parse_client_message(serialize(message).encode()) == message
