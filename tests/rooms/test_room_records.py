"""What a burst of joins leaves in the record is written together (issue 8: join→welcome under a
burst), with nothing lost and nothing read out of turn."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from server.infra.roles import Role
from server.infra.storage import ChatMessage, SessionStatus, Store
from server.infra.storage.schema import audit_events
from server.live.rooms.records import RoomRecords
from tests.rooms.test_chat_store import chat_line

ROOMS = 20


async def _sessions(store: Store, count: int) -> list[str]:
    mentor = await store.users.create(
        email="mentor@example.org", name="M", role=Role.MENTOR, password_hash="x"
    )
    return [
        (
            await store.sessions.create(
                title=f"T{i}",
                mentor_id=mentor.id,
                trainee_ids=(),
                media_mode="direct",
                scheduled_for=None,
            )
        ).id
        for i in range(count)
    ]


async def _write_all(records: RoomRecords) -> None:
    """Start ``records``, wait until everything queued is written, close it."""
    await records.start()
    try:
        async with asyncio.timeout(30):
            await records.flush()
    finally:
        await records.close()


async def _actions(store: Store) -> list[str]:
    async with store.engine.connect() as connection:
        rows = await connection.execute(
            sa.select(audit_events.c.action)
            .where(audit_events.c.action.startswith("room."))
            .order_by(audit_events.c.seq)
        )
        return [str(r.action) for r in rows]


async def test_a_burst_of_joins_is_a_few_transactions_and_loses_nothing(store: Store) -> None:
    session_ids = await _sessions(store, ROOMS)
    commits: list[object] = []

    def committed(_connection: Any) -> None:
        commits.append(_connection)

    engines = {store.engine.sync_engine, store.writes.engine}
    for engine in engines:
        event.listen(engine, "commit", committed)
    tails: list[tuple[list[ChatMessage], list[ChatMessage]]] = []
    records = RoomRecords(store)
    # What ROOMS rooms opening at once queue, in the order the hub queues it: the session goes
    # live, then per member its join, and the chat its room's tail starts from.
    for i, session_id in enumerate(session_ids):
        records.session_live(session_id)
        for member in ("mentor", "trainee"):
            detail = {"member": f"{member}-{i}"}
            records.audit("join", session_id=session_id, actor_id=None, detail=detail)
            if member == "mentor":
                records.chat_tail(
                    session_id,
                    limit=50,
                    then=lambda *found: tails.append(found),
                    failed=lambda: None,
                )
    try:
        await _write_all(records)
    finally:
        for engine in engines:
            event.remove(engine, "commit", committed)

    # One transaction for the sessions going live and one for the audit events (was one per
    # room and one per member: 3 x ROOMS).
    assert len(commits) <= 2
    joins = await _actions(store)
    assert joins == ["room.join"] * (2 * ROOMS)
    assert await store.audit.verify() == (2 * ROOMS, None)
    assert tails == [([], [])] * ROOMS
    for session_id in session_ids:
        session = await store.sessions.get(session_id)
        assert session is not None
        assert session.status is SessionStatus.LIVE
        assert session.started_at is not None


async def test_a_chat_tail_sees_the_chat_queued_before_it_and_none_after(
    store: Store,
) -> None:
    [session_id] = await _sessions(store, 1)
    records = RoomRecords(store)
    seen: list[list[str]] = []
    stored: list[str] = []
    after: list[str] = []

    def tail(everyone: list[ChatMessage], _every_audience: list[ChatMessage]) -> None:
        seen.append([m.id for m in everyone])

    records.chat(chat_line(session_id, 1), then=lambda: stored.append("c1"), failed=lambda: None)
    records.audit("join", session_id=session_id, actor_id=None, detail={})
    records.chat_tail(session_id, limit=50, then=tail, failed=lambda: None)
    records.chat(chat_line(session_id, 2), then=lambda: stored.append("c2"), failed=lambda: None)
    records.after(lambda: after.append(f"after {len(stored)} stored"))
    records.chat_tail(session_id, limit=50, then=tail, failed=lambda: None)
    await _write_all(records)
    assert stored == ["c1", "c2"]
    # The first read was made before the second message was stored (that one the room adds to
    # its tail as it is stored), and `after` ran once the second was.
    assert seen == [["c1"], ["c1", "c2"]]
    assert after == ["after 2 stored"]


async def test_a_chat_tail_reads_everyones_lines_behind_many_for_mentors_only(
    store: Store,
) -> None:
    [session_id] = await _sessions(store, 1)
    for n in range(3):
        await store.chat.add(chat_line(session_id, n))
    for n in range(3, 13):  # a hidden observer's: for mentors only
        await store.chat.add(dataclasses.replace(chat_line(session_id, n), audience="mentors"))
    records = RoomRecords(store)
    tails: list[tuple[list[str], list[str]]] = []
    records.chat_tail(
        session_id,
        limit=10,
        then=lambda everyone, all_: tails.append(([m.id for m in everyone], [m.id for m in all_])),
        failed=lambda: None,
    )
    await _write_all(records)
    assert tails == [(["c0", "c1", "c2"], [f"c{n}" for n in range(3, 13)])]
