"""The notes' group commit never copies SQLite's log into the database itself: that copy and its
fsync ran inside a batch's commit every ~85 batches and held every update queued behind it
(bench/notes.py's p99, issue 13). Checkpoints run beside the writer instead, the log stays
bounded, and the writer's connection goes back to the pool as it came."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

import session_notes.sqlite_checkpoints as checkpoints
from server.infra.storage import Store
from server.infra.storage.engine import for_writing
from session_notes import BatchWriter, NewUpdate, SqlNotesStore
from tests.support import migrated_store

# Enough to take the log well past SQLite's default checkpoint (1,000 pages) and stay below
# the writer's backstop: each batch touches a page of the index per document.
BATCHES = 300
ROWS = 10
DOCUMENTS = 50
UPDATE_BYTES = 300


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[Store]:
    store = await migrated_store(f"sqlite+aiosqlite:///{tmp_path}/notes.db")
    yield store
    await store.close()


async def write_batches(writer: BatchWriter) -> list[int]:
    ids: list[int] = []
    for batch in range(BATCHES):
        rows = [
            NewUpdate(f"s{(batch * 7 + row) % DOCUMENTS}", b"u" * UPDATE_BYTES, "a", "A", 0.0)
            for row in range(ROWS)
        ]
        ids += await writer.append_many(rows)
    return ids


async def log_pages(store: Store) -> int:
    """The pages in the log now (a checkpoint that resets it starts it again from 0)."""
    async with store.engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        rows = await driver.execute_fetchall("PRAGMA wal_checkpoint(PASSIVE)")
    (_busy, pages, _copied) = next(iter(rows))
    return int(pages)


async def test_the_writer_does_not_checkpoint_below_its_backstop(
    sqlite_store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing checkpoints beside the writer: the log shows what the writer did itself.
    monkeypatch.setattr(checkpoints.Checkpoints, "after_batch", lambda self: None)
    writer = SqlNotesStore(sqlite_store.engine, for_writing(sqlite_store.engine)).batch_writer()
    try:
        ids = await write_batches(writer)
        pages = await log_pages(sqlite_store)
    finally:
        await writer.close()
    assert len(ids) == BATCHES * ROWS
    # Had the writer checkpointed at SQLite's default, the log would have started again.
    assert 1100 < pages < checkpoints.BACKSTOP_PAGES


async def test_checkpoints_beside_the_writer_copy_the_log_into_the_database(
    sqlite_store: Store, tmp_path: Path
) -> None:
    database = tmp_path / "notes.db"
    before = database.stat().st_size
    notes = SqlNotesStore(sqlite_store.engine, for_writing(sqlite_store.engine))
    writer = notes.batch_writer()
    try:
        ids = await write_batches(writer)
    finally:
        await writer.close()  # waits for a checkpoint under way
    # Most of what was written is in the database file, not only in the log (the writer did
    # not copy it: see the test above).
    assert database.stat().st_size - before > 0.8 * BATCHES * ROWS * UPDATE_BYTES
    assert await log_pages(sqlite_store) < checkpoints.BACKSTOP_PAGES
    # What was written is all there, in order.
    stored = [u.id for s in range(DOCUMENTS) for u in await notes.history(f"s{s}")]
    assert sorted(stored) == ids


async def test_the_writer_connection_goes_back_to_the_pool_as_it_came(sqlite_store: Store) -> None:
    writer = SqlNotesStore(sqlite_store.engine, for_writing(sqlite_store.engine)).batch_writer()
    try:
        await write_batches(writer)
    finally:
        await writer.close()
    pool = sqlite_store.engine.sync_engine.pool
    held = [await sqlite_store.engine.connect() for _ in range(pool.checkedin())]  # type: ignore[attr-defined]
    try:
        for connection in held:
            raw = await connection.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            rows = list(await driver.execute_fetchall("PRAGMA wal_autocheckpoint"))
            assert rows[0][0] == 1000
    finally:
        for connection in held:
            await connection.close()
