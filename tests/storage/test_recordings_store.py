"""The recordings table on SQLite and PostgreSQL: a row's life from `recording` to finished or
failed, what start-up recovery and retention ask of it, and deletion with its session."""

from __future__ import annotations

from server.infra.roles import Role
from server.infra.storage import Store


async def test_a_recording_row_from_start_to_retention(store: Store) -> None:
    mentor = await store.users.create(
        email="m@example.org", name="M", role=Role.MENTOR, password_hash="h"
    )
    session = await store.sessions.create(
        title="Ward", mentor_id=mentor.id, trainee_ids=[], media_mode="routed", scheduled_for=None
    )
    for n, at in enumerate((100.0, 200.0, 300.0)):
        await store.recordings.begin(
            recording_id=f"r{n}", session_id=session.id, peer=f"p{n}", segment=1, now=at
        )
    assert [r.id for r in await store.recordings.unfinished()] == ["r0", "r1", "r2"]
    await store.recordings.finish(
        "r0",
        state="complete",
        duration_s=12.5,
        size_bytes=3_000_000_000,  # past 32 bits: a long recording
        codecs=("vp8", "opus"),
        container="webm",
        sha256="ab" * 32,
        now=150.0,
    )
    await store.recordings.fail("r1", now=250.0)
    done = await store.recordings.get("r0")
    assert done is not None
    assert (done.state, done.duration_s, done.size_bytes, done.codecs) == (
        "complete",
        12.5,
        3_000_000_000,
        ("vp8", "opus"),
    )
    assert [r.id for r in await store.recordings.unfinished()] == ["r2"]
    # Retention never takes a recording still being written.
    assert [r.id for r in await store.recordings.started_before(1000.0)] == ["r0", "r1"]
    assert [r.id for r in await store.recordings.for_session(session.id)] == ["r0", "r1", "r2"]
    assert await store.recordings.delete("r0")
    assert not await store.recordings.delete("r0")
    assert await store.recordings.get("r0") is None
