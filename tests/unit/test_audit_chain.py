from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from server.infra.audit_chain import GENESIS_HASH, AuditEvent, event_hash, find_break

texts = st.text(max_size=20)
event_fields = st.fixed_dictionaries(
    {
        "at": st.floats(min_value=0, max_value=4e9),
        "actor_id": st.none() | texts,
        "action": texts,
        "target": st.none() | texts,
        "ip": st.none() | texts,
        "detail": st.dictionaries(texts, texts, max_size=3),
    }
)


def chain(items: list[dict[str, object]]) -> list[AuditEvent]:
    events, prev = [], GENESIS_HASH
    for seq, item in enumerate(items, start=1):
        digest = event_hash(prev, seq=seq, **item)  # type: ignore[arg-type]
        events.append(AuditEvent(seq=seq, prev_hash=prev, hash=digest, **item))  # type: ignore[arg-type]
        prev = digest
    return events


@given(st.lists(event_fields, max_size=8))
def test_an_untouched_chain_verifies(items: list[dict[str, object]]) -> None:
    assert find_break(chain(items)) is None


@given(st.lists(event_fields, min_size=1, max_size=8), st.data())
def test_any_edit_is_found_at_the_edited_event(
    items: list[dict[str, object]], data: st.DataObject
) -> None:
    events = chain(items)
    index = data.draw(st.integers(0, len(events) - 1))
    original = events[index]
    edited = replace(original, action=original.action + "!")
    events[index] = edited
    broken = find_break(events)
    assert broken is not None
    assert broken.seq == original.seq


@given(st.lists(event_fields, min_size=2, max_size=8), st.data())
def test_a_removed_event_is_found(items: list[dict[str, object]], data: st.DataObject) -> None:
    events = chain(items)
    index = data.draw(st.integers(0, len(events) - 2))
    del events[index]
    broken = find_break(events)
    assert broken is not None
    assert broken.seq == index + 1
