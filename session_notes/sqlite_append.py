"""Group commit on SQLite in one trip to the driver's thread (bench/README.md, notes).

aiosqlite runs every driver call on its connection's own thread, and SQLAlchemy's transaction
over it (``BEGIN IMMEDIATE``, cursor, insert, fetch, close, commit, reset) makes a dozen such
trips per batch: measured here at ~5 ms of CPU for a batch of 8 updates, most of what a notes
update cost the server. One multi-row ``INSERT … RETURNING`` is a single statement, so with the
driver in autocommit mode (the engine sets ``isolation_level=None``) it is its own transaction,
committed (``synchronous=FULL``: fsync'd) before the call returns, all rows or none.
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from session_notes.schema import notes_updates

__all__ = ["MAX_ROWS", "append_rows", "driver_of"]

# Five parameters a row; SQLite allows 32,766 per statement (3.32+).
MAX_ROWS = 1000

_COLUMNS = ("session_id", "update", "author_id", "author_name", "at")


@functools.lru_cache(maxsize=64)
def _insert_sql(rows: int) -> str:
    columns = ", ".join(f'"{name}"' for name in _COLUMNS)
    values = ", ".join(["(?, ?, ?, ?, ?)"] * rows)
    table = notes_updates.name
    # Only constant names and placeholders: the values travel as parameters.
    return f'INSERT INTO "{table}" ({columns}) VALUES {values} RETURNING "id"'  # noqa: S608


async def driver_of(connection: AsyncConnection) -> Any:
    """The aiosqlite connection under ``connection`` (one trip through SQLAlchemy's greenlet:
    a writer that holds its connection asks once)."""
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def append_rows(driver: Any, rows: list[tuple[Any, ...]]) -> list[int]:
    """Insert ``rows`` (values in ``_COLUMNS`` order, at most :data:`MAX_ROWS`) durably, in one
    statement, on ``driver`` (an aiosqlite connection, :func:`driver_of`); their ids, in the
    order of ``rows``."""
    if driver.in_transaction:
        raise RuntimeError("a pooled SQLite connection is inside a transaction")
    params = [value for row in rows for value in row]
    returned = await driver.execute_fetchall(_insert_sql(len(rows)), params)
    if driver.in_transaction:
        # The driver opened a transaction itself (not in autocommit mode): end it here.
        await driver.commit()
    # SQLite hands out a table's ids in ascending order as one statement inserts its rows in
    # order; RETURNING's own order is unspecified, so sort (as SQLAlchemy does for SQLite).
    ids = sorted(int(row[0]) for row in returned)
    if len(ids) != len(rows):
        raise RuntimeError("the insert returned a different number of ids")
    return ids
