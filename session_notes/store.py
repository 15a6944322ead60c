"""Where notes live: an append-only log of updates, each with its author and time, plus a
snapshot that makes loading fast. The log is never trimmed: it is the history the record
shows. Tables: :mod:`session_notes.schema` (migration 0003)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from session_notes.authorship import StoredUpdate
from session_notes.schema import notes_snapshots, notes_updates
from session_notes.sqlite_append import MAX_ROWS, append_rows, driver_of
from session_notes.sqlite_checkpoints import Checkpoints

__all__ = [
    "BatchWriter",
    "NewUpdate",
    "NotesStore",
    "NotesStoreError",
    "Snapshot",
    "SqlNotesStore",
    "notes_snapshots",
    "notes_updates",
]


class NotesStoreError(Exception):
    """The database could not store or load notes (the cause is chained). The store's callers
    see only this: SQLAlchemy's and the drivers' errors are mapped here, at one boundary."""


@contextlib.asynccontextmanager
async def _mapped() -> AsyncIterator[None]:
    try:
        yield
    except (SQLAlchemyError, sqlite3.Error, OSError, TimeoutError) as exc:
        raise NotesStoreError(type(exc).__name__) from exc


@dataclass(frozen=True)
class NewUpdate:
    session_id: str
    update: bytes
    author_id: str
    author_name: str
    at: float


@dataclass(frozen=True)
class Snapshot:
    data: bytes
    upto_id: int


class BatchWriter(Protocol):
    """Appends batches of updates for one writer (the group commit), until closed."""

    async def append_many(self, rows: list[NewUpdate]) -> list[int]:
        """As :meth:`NotesStore.append_many`."""

    async def close(self) -> None:
        """Give back what the writer held; it may not be used afterwards."""


class NotesStore(Protocol):
    async def append(
        self, session_id: str, update: bytes, *, author_id: str, author_name: str, at: float
    ) -> int:
        """Store an update durably; its id orders it."""

    async def append_many(self, rows: list[NewUpdate]) -> list[int]:
        """Store several updates in one durable transaction (group commit); their ids, in order."""

    def batch_writer(self) -> BatchWriter:
        """A writer for one caller's run of batches (the group commit's), which may hold a
        connection across them; close it when done."""

    async def load(self, session_id: str) -> tuple[Snapshot | None, list[StoredUpdate]]:
        """The snapshot (if any) and the updates stored after it."""

    async def updates_after(self, after: Mapping[str, int]) -> dict[str, list[StoredUpdate]]:
        """For each session id, the updates stored after its id, in order (none: absent)."""

    async def history(self, session_id: str, upto_id: int | None = None) -> list[StoredUpdate]:
        """Every update ever stored (up to and including ``upto_id``, if given), in order."""

    async def log_size(self, session_id: str) -> int:
        """The bytes of every update ever stored for the session."""

    async def last_update_at(self, session_id: str) -> float | None:
        """When the notes last changed (None: never)."""

    async def save_snapshot(
        self, session_id: str, snapshot: bytes, upto_id: int, at: float
    ) -> None: ...


def _stored(row: sa.RowMapping) -> StoredUpdate:
    return StoredUpdate(
        int(row["id"]), bytes(row["update"]), row["author_id"], row["author_name"], row["at"]
    )


# Documents per catch-up statement (each adds one indexed range to its WHERE).
_SESSIONS_PER_READ = 100

_COLUMNS = (
    notes_updates.c.id,
    notes_updates.c.update,
    notes_updates.c.author_id,
    notes_updates.c.author_name,
    notes_updates.c.at,
)


def _values(rows: list[NewUpdate]) -> list[tuple[str, bytes, str, str, float]]:
    return [(r.session_id, r.update, r.author_id, r.author_name[:80], r.at) for r in rows]


class SqlNotesStore:
    def __init__(self, engine: AsyncEngine, writer: AsyncEngine) -> None:
        """``writer``: the same engine set up for write transactions (SQLite BEGIN IMMEDIATE)."""
        self._engine = engine
        self._writer = writer

    async def append(
        self, session_id: str, update: bytes, *, author_id: str, author_name: str, at: float
    ) -> int:
        async with _mapped(), self._writer.begin() as connection:
            result = await connection.execute(
                notes_updates.insert().values(
                    session_id=session_id,
                    update=update,
                    author_id=author_id,
                    author_name=author_name[:80],
                    at=at,
                )
            )
        key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    async def append_many(self, rows: list[NewUpdate]) -> list[int]:
        if not rows:
            return []
        if self._one_statement(rows):
            # The hot path of every notes update: one trip to SQLite's thread (sqlite_append.py).
            async with _mapped(), self._writer.connect() as connection:
                return await append_rows(await driver_of(connection), _values(rows))
        async with _mapped(), self._writer.begin() as connection:
            result = await connection.execute(
                notes_updates.insert().returning(notes_updates.c.id, sort_by_parameter_order=True),
                [
                    {
                        "session_id": r.session_id,
                        "update": r.update,
                        "author_id": r.author_id,
                        "author_name": r.author_name[:80],
                        "at": r.at,
                    }
                    for r in rows
                ],
            )
            return [int(row[0]) for row in result]

    def _one_statement(self, rows: list[NewUpdate]) -> bool:
        return self._writer.dialect.name == "sqlite" and len(rows) <= MAX_ROWS

    def batch_writer(self) -> BatchWriter:
        return _HeldWriter(self)

    async def load(self, session_id: str) -> tuple[Snapshot | None, list[StoredUpdate]]:
        async with _mapped(), self._engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(notes_snapshots.c.snapshot, notes_snapshots.c.upto_id).where(
                        notes_snapshots.c.session_id == session_id
                    )
                )
            ).first()
            snapshot = None if row is None else Snapshot(bytes(row[0]), int(row[1]))
            rows = (
                await connection.execute(
                    sa.select(*_COLUMNS)
                    .where(
                        notes_updates.c.session_id == session_id,
                        notes_updates.c.id > (snapshot.upto_id if snapshot else 0),
                    )
                    .order_by(notes_updates.c.id)
                )
            ).all()
        return snapshot, [_stored(r._mapping) for r in rows]

    async def updates_after(self, after: Mapping[str, int]) -> dict[str, list[StoredUpdate]]:
        # One statement for many documents (a node's catch-up asks for all it holds open at
        # once: issue 13), in chunks so that no statement grows without bound.
        found: dict[str, list[StoredUpdate]] = {}
        wanted = list(after.items())
        async with _mapped(), self._engine.connect() as connection:
            for start in range(0, len(wanted), _SESSIONS_PER_READ):
                chunk = wanted[start : start + _SESSIONS_PER_READ]
                rows = (
                    await connection.execute(
                        sa.select(notes_updates.c.session_id, *_COLUMNS)
                        .where(
                            sa.or_(
                                *(
                                    sa.and_(
                                        notes_updates.c.session_id == session_id,
                                        notes_updates.c.id > after_id,
                                    )
                                    for session_id, after_id in chunk
                                )
                            )
                        )
                        .order_by(notes_updates.c.id)
                    )
                ).all()
                for row in rows:
                    found.setdefault(row.session_id, []).append(_stored(row._mapping))
        return found

    async def history(self, session_id: str, upto_id: int | None = None) -> list[StoredUpdate]:
        where = [notes_updates.c.session_id == session_id]
        if upto_id is not None:
            where.append(notes_updates.c.id <= upto_id)
        async with self._engine.connect() as connection:
            rows = (
                await connection.execute(
                    sa.select(*_COLUMNS).where(*where).order_by(notes_updates.c.id)
                )
            ).all()
        return [_stored(r._mapping) for r in rows]

    async def log_size(self, session_id: str) -> int:
        async with _mapped(), self._engine.connect() as connection:
            size = (
                await connection.execute(
                    sa.select(
                        sa.func.coalesce(sa.func.sum(sa.func.length(notes_updates.c.update)), 0)
                    ).where(notes_updates.c.session_id == session_id)
                )
            ).scalar()
        return int(size or 0)

    async def last_update_at(self, session_id: str) -> float | None:
        async with self._engine.connect() as connection:
            at = (
                await connection.execute(
                    sa.select(sa.func.max(notes_updates.c.at)).where(
                        notes_updates.c.session_id == session_id
                    )
                )
            ).scalar()
        return None if at is None else float(at)

    async def save_snapshot(
        self, session_id: str, snapshot: bytes, upto_id: int, at: float
    ) -> None:
        # One statement, so two nodes compacting the same document at once cannot both insert
        # (issue 13, defect 4): the later snapshot wins, an older one never replaces it.
        async with _mapped(), self._writer.begin() as connection:
            insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
            statement = insert(notes_snapshots).values(
                session_id=session_id, snapshot=snapshot, upto_id=upto_id, at=at
            )
            await connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[notes_snapshots.c.session_id],
                    set_={
                        "snapshot": statement.excluded.snapshot,
                        "upto_id": statement.excluded.upto_id,
                        "at": statement.excluded.at,
                    },
                    where=notes_snapshots.c.upto_id < statement.excluded.upto_id,
                )
            )


class _HeldWriter:
    """The group commit's writer: on SQLite it keeps one connection of the writer engine checked
    out across batches, which saves a batch the pool's checkout and its reset on return (a
    rollback: one more trip to aiosqlite's thread), and keeps the log's checkpoints off it
    (:mod:`session_notes.sqlite_checkpoints`). A connection that failed is closed, not reused:
    the next batch checks out another. PostgreSQL keeps the store's own path."""

    def __init__(self, store: SqlNotesStore) -> None:
        self._store = store
        self._connection: AsyncConnection | None = None
        self._driver: Any = None  # the held connection's aiosqlite connection
        self._engine: AsyncEngine | None = None
        self._checkpoints: Checkpoints | None = None

    async def append_many(self, rows: list[NewUpdate]) -> list[int]:
        store = self._store
        if not rows or not store._one_statement(rows):
            return await store.append_many(rows)
        if self._engine is not store._writer:
            # The store was given another writer engine: hold one of its connections instead.
            await self.close()
        async with _mapped():
            try:
                if self._driver is None:
                    await self._hold(store._writer)
                ids = await append_rows(self._driver, _values(rows))
            except BaseException:
                await self._drop()
                raise
        assert self._checkpoints is not None
        self._checkpoints.after_batch()
        return ids

    async def _hold(self, engine: AsyncEngine) -> None:
        self._connection = await engine.connect()
        self._engine = engine
        self._checkpoints = Checkpoints(engine)
        await self._checkpoints.take_over(self._connection)
        self._driver = await driver_of(self._connection)

    async def _drop(self) -> None:
        connection, self._connection, self._engine = self._connection, None, None
        self._driver = None
        await self._close_checkpoints()
        if connection is not None:
            # Whatever state it was left in (a statement cut short), it is never used again.
            with contextlib.suppress(Exception):
                await connection.invalidate()
            with contextlib.suppress(Exception):
                await connection.close()

    async def _close_checkpoints(self) -> None:
        checkpoints, self._checkpoints = self._checkpoints, None
        if checkpoints is not None:
            await checkpoints.close()

    async def close(self) -> None:
        connection, self._connection, self._engine = self._connection, None, None
        self._driver = None
        checkpoints = self._checkpoints
        await self._close_checkpoints()
        if connection is not None:
            try:
                if checkpoints is not None:
                    # Back in the pool, it checkpoints as every other connection does.
                    await checkpoints.give_back(connection)
            except Exception:
                # It never goes back to the pool with the writer's setting.
                with contextlib.suppress(Exception):
                    await connection.invalidate()
            finally:
                await connection.close()
