"""The SQL engine: SQLite (default, one process) or PostgreSQL (several nodes)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

__all__ = [
    "IN_CHUNK",
    "UNAVAILABLE",
    "configure_sqlite",
    "create_engine",
    "for_writing",
    "ping",
]

UNAVAILABLE: tuple[type[Exception], ...] = (SQLAlchemyError, OSError, TimeoutError)
"""What the database's driver and pool raise when it cannot answer now (a pool timeout under
load, a lost connection): edges that cannot answer 500 (sockets) catch these and ask the client
to come back, so that SQLAlchemy's types are named here only."""


IN_CHUNK = 1000
"""Values bound in one ``IN (...)``: a statement binds at most 32,766 (SQLite) or 32,767
(PostgreSQL) parameters, so reads over a node's every socket or room go in chunks of this."""


def configure_sqlite(sync_engine: sa.Engine) -> None:
    """The pragmas and transactions of every connection that writes to the SQLite file (the
    engine's, and ``Writes``' own)."""

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (below) instead of pysqlite's implicit transactions.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A deferred transaction that later writes fails at once with SQLITE_BUSY when another
        # connection (or the CLI in another process) holds the write lock; busy_timeout does not
        # cover that upgrade. Writers take the lock up front and queue; readers (WAL) never wait.
        immediate = connection.get_execution_options().get(_WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


_WRITE_OPTION = "preceptor_write"


_Engine = TypeVar("_Engine", AsyncEngine, sa.Engine)


def for_writing(engine: _Engine) -> _Engine:
    """The same engine and pool (asynchronous or not), for transactions that write
    (``BEGIN IMMEDIATE`` on SQLite)."""
    return engine.execution_options(**{_WRITE_OPTION: True})


def create_engine(url: str) -> AsyncEngine:
    """Open an engine for ``url``; for SQLite, create the file's directory and set the pragmas.

    ``hide_parameters``: a statement's parameters are notes, feedback and e-mail addresses, and
    SQLAlchemy would otherwise put them into every error's message (and so into the logs).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, hide_parameters=True)
        configure_sqlite(engine.sync_engine)
        return engine
    engine = create_async_engine(url, hide_parameters=True, pool_size=10, max_overflow=10)
    _ping_when_idle(engine)
    return engine


# A connection back in the pool for less than this is taken as it is.
_PING_IDLE_AFTER_S = 1.0


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a pooled connection before use only when it sat idle (a database restarted, or a
    proxy that dropped it, meanwhile). ``pool_pre_ping`` pings at every checkout, three round
    trips on asyncpg (BEGIN, a query, ROLLBACK): ~7 % of a busy node's time in the two-node
    soak. A connection used moments ago that turns out dead fails its statement instead: the
    pool then drops every connection opened before (SQLAlchemy's disconnect handling), and the
    caller sees the mapped error it already handles (a retry, 503 or 1013)."""
    pool_events = engine.sync_engine

    @event.listens_for(pool_events, "connect")
    def _opened(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(pool_events, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(pool_events, "checkout")
    def _taken(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("idle_since", 0.0) < _PING_IDLE_AFTER_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:
            # The pool discards this connection and checks out (or opens) another.
            raise DisconnectionError("stale pooled connection") from exc


async def ping(engine: AsyncEngine) -> bool:
    """True when the database answers a trivial query."""
    try:
        async with engine.connect() as connection:
            await connection.execute(sa.text("SELECT 1"))
    except Exception:
        return False
    return True
