"""PostgreSQL connections the server pools outlive a database restart (or a proxy dropping
them): one that sat idle is pinged before use, so no request sees it; one used moments ago is
not pinged (a busy node paid three round trips a checkout for that), and if it is dead its one
statement fails with the error the edges already map, and the pool starts afresh."""

from __future__ import annotations

import asyncpg
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from server.infra.storage import UNAVAILABLE
from server.infra.storage import engine as engine_module
from server.infra.storage.engine import create_engine
from tests.support import postgres_database

pytestmark = pytest.mark.postgres


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one())


async def _kill(url: str, pid: int) -> None:
    """As a database restart does to the pooled connection: its backend goes away."""
    admin = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()


async def test_an_idle_pooled_connection_that_died_is_replaced_unseen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine_module, "_PING_IDLE_AFTER_S", 0.0)  # every connection "idle"
    async with postgres_database() as url:
        engine = create_engine(url)
        try:
            dead = await _backend_pid(engine)
            await _kill(url, dead)
            # The same pooled connection is checked out, pinged, found dead and replaced.
            assert await _backend_pid(engine) != dead
        finally:
            await engine.dispose()


async def test_a_connection_used_moments_ago_is_not_pinged_and_fails_once_if_dead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(engine_module, "_PING_IDLE_AFTER_S", 3600.0)  # never "idle"
    async with postgres_database() as url:
        engine = create_engine(url)
        try:
            dead = await _backend_pid(engine)
            await _kill(url, dead)
            with pytest.raises(UNAVAILABLE):
                await _backend_pid(engine)
            assert await _backend_pid(engine) != dead  # the pool started afresh
        finally:
            await engine.dispose()
