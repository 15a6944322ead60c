"""The notes store contract, on SQLite and on the machine's PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from pycrdt import Doc, Text

from server.infra.storage import Store
from server.infra.storage.engine import for_writing
from session_notes import NewUpdate, NotesDocument, NotesStoreError, SqlNotesStore, authored_runs
from tests.support import migrated_store


def edits(*chunks: str) -> list[bytes]:
    doc: Doc[object] = Doc()
    text = doc.get("notes", type=Text)
    updates = []
    for chunk in chunks:
        before = doc.get_state()
        text += chunk
        updates.append(doc.get_update(before))
    return updates


async def test_log_snapshot_and_history(store: Store) -> None:
    notes = SqlNotesStore(store.engine, for_writing(store.engine))
    updates = edits("a", "b", "c")
    ids = [
        await notes.append("s1", u, author_id=f"u{i}", author_name=f"U{i}", at=float(i))
        for i, u in enumerate(updates)
    ]
    assert ids == sorted(ids)
    assert await notes.last_update_at("s1") == 2.0
    assert await notes.last_update_at("never-written") is None
    await notes.append("s2", edits("other")[0], author_id="x", author_name="X", at=0.0)
    snapshot, rows = await notes.load("s1")
    assert snapshot is None
    assert [r.update for r in rows] == updates
    document = NotesDocument.load(None, [r.update for r in rows])
    assert document.text == "abc"
    await notes.save_snapshot("s1", document.snapshot(), ids[1], at=5.0)
    # An older snapshot never replaces a newer one.
    await notes.save_snapshot("s1", b"stale", ids[0], at=6.0)
    snapshot, rows = await notes.load("s1")
    assert snapshot is not None
    assert snapshot.upto_id == ids[1]
    assert [r.id for r in rows] == [ids[2]]
    assert NotesDocument.load(snapshot.data, [r.update for r in rows]).text == "abc"
    # The history keeps every update and its author, snapshot or not.
    history = await notes.history("s1")
    assert [(r.author_name, r.text) for r in authored_runs(history)] == [
        ("U0", "a"),
        ("U1", "b"),
        ("U2", "c"),
    ]


async def test_a_batch_is_stored_whole_and_in_order(store: Store) -> None:
    """Group commit's batch: every row or none, and each id is its own row's."""
    notes = SqlNotesStore(store.engine, for_writing(store.engine))
    updates = edits(*(f"<{i}>" for i in range(300)))
    rows = [
        NewUpdate(f"s{i % 3}", u, f"u{i}", f"Writer {i}", float(i)) for i, u in enumerate(updates)
    ]
    ids = await notes.append_many(rows)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(rows)
    stored = {r.id: r for s in ("s0", "s1", "s2") for r in (await notes.load(s))[1]}
    assert [(stored[i].update, stored[i].author_id) for i in ids] == [
        (r.update, r.author_id) for r in rows
    ]
    broken = [NewUpdate("s9", b"ok", "u", "U", 0.0), NewUpdate("s9", None, "u", "U", 0.0)]  # type: ignore[arg-type]
    with pytest.raises(NotesStoreError):
        await notes.append_many(broken)
    assert await notes.load("s9") == (None, [])


async def test_a_batch_on_sqlite_is_one_statement(tmp_path: Path) -> None:
    """One durable statement per batch, not BEGIN, INSERT and COMMIT over a dozen trips to the
    driver's thread: those trips were most of a notes update's CPU (bench/README.md, notes)."""
    store = await migrated_store(f"sqlite+aiosqlite:///{tmp_path}/notes.db")
    try:
        statements: list[str] = []
        async with store.engine.connect() as connection:
            raw = await connection.get_raw_connection()
            await raw.driver_connection.set_trace_callback(statements.append)
        notes = SqlNotesStore(store.engine, for_writing(store.engine))
        rows = [NewUpdate("s1", u, "u", "U", 0.0) for u in edits("a", "b", "c")]
        statements.clear()
        ids = await notes.append_many(rows)
        assert [s.split(" (")[0] for s in statements] == ['INSERT INTO "notes_updates"']
        assert [r.id for r in (await notes.load("s1"))[1]] == ids
    finally:
        await store.close()


def test_pending_updates_block_compaction() -> None:
    first, second = edits("x", "y")
    document = NotesDocument()
    document.apply(second)  # depends on `first`, which has not arrived
    assert document.has_pending([second])
    document.apply(first)
    assert not document.has_pending([first, second])
    assert document.text == "xy"
