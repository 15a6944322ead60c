"""The chat store on both engines (DESIGN.md §6: SQL runs against SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from server.infra.roles import Role
from server.infra.storage import ChatMessage, Store


async def _session(store: Store) -> str:
    mentor = await store.users.create(
        email="mentor@example.org", name="M", role=Role.MENTOR, password_hash="x"
    )
    session = await store.sessions.create(
        title="T", mentor_id=mentor.id, trainee_ids=(), media_mode="direct", scheduled_for=None
    )
    return session.id


def chat_line(session_id: str, n: int) -> ChatMessage:
    return ChatMessage(
        id=f"c{n}",
        session_id=session_id,
        peer="p1",
        author_subject="u1",
        author_name="Sam Student",
        text=f"message {n} ✓",
        at=1_700_000_000.0 + n,
        at_ms=n * 1000,
    )


async def test_recent_keeps_order_and_bound_and_by_ids_finds_them(store: Store) -> None:
    session_id = await _session(store)
    for n in range(5):
        await store.chat.add(chat_line(session_id, n))
    assert await store.chat.recent(session_id, limit=3) == [
        chat_line(session_id, n) for n in (2, 3, 4)
    ]
    assert await store.chat.recent("another", limit=3) == []
    found = await store.chat.by_ids(session_id, {"c1", "c4", "nope"})
    assert found == {"c1": chat_line(session_id, 1), "c4": chat_line(session_id, 4)}
    assert await store.chat.by_ids(session_id, ()) == {}
    with pytest.raises(IntegrityError):  # an id is stored once
        await store.chat.add(chat_line(session_id, 1))
