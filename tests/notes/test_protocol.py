"""The y-websocket codec, without sockets: round trips, and nothing but NotesProtocolError
escapes whatever bytes arrive."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pycrdt import Doc, Text, create_sync_message, create_update_message

from session_notes import (
    AwarenessEntry,
    AwarenessUpdate,
    NotesProtocolError,
    QueryAwareness,
    SyncStep1,
    SyncStep2,
    SyncUpdate,
    awareness_frame,
    encode_awareness,
    parse_frame,
    sync_step1_frame,
    sync_step2_frame,
    update_frame,
)


def test_frames_match_what_pycrdt_and_yjs_send() -> None:
    doc: Doc[object] = Doc()
    text = doc.get("notes", type=Text)
    text += "hello"
    assert parse_frame(create_sync_message(doc)) == SyncStep1(doc.get_state())
    assert create_sync_message(doc) == sync_step1_frame(doc.get_state())
    update = doc.get_update()
    assert create_update_message(update) == update_frame(update)
    assert parse_frame(update_frame(update)) == SyncUpdate(update)
    assert parse_frame(sync_step2_frame(update)) == SyncStep2(update)
    assert parse_frame(bytes([3])) == QueryAwareness()


@given(
    st.lists(
        st.tuples(
            st.integers(0, 2**32),
            st.integers(0, 2**20),
            st.one_of(st.none(), st.dictionaries(st.text(max_size=5), st.text(max_size=20))),
        ),
        max_size=5,
    )
)
def test_awareness_round_trips(entries: list[tuple[int, int, object]]) -> None:
    import json

    typed = [AwarenessEntry(c, k, json.dumps(s)) for c, k, s in entries]
    payload = encode_awareness(typed)
    parsed = parse_frame(awareness_frame(payload))
    assert parsed == AwarenessUpdate(payload, tuple(typed))


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_raise_protocol_error(data: bytes) -> None:
    code = None
    try:
        parse_frame(data)
    except NotesProtocolError as exc:
        code = exc.code
    assert code in {None, "truncated", "invalid", "unknown-type", "too-big"}


@given(st.binary(min_size=1, max_size=100), st.integers(0, 99))
def test_truncated_frames_are_refused(body: bytes, cut: int) -> None:
    frame = update_frame(body)
    truncated = frame[: min(cut, len(frame) - 1)]
    with pytest.raises(NotesProtocolError):
        parse_frame(truncated)
