"""A synchronous engine over the SQLite file of the asynchronous one, with a thread of its own to
run on: what ``Reads`` and ``Writes`` run their work on, one trip to that thread a batch or a
transaction instead of aiosqlite's trip per driver call (issue 8).

Only for a SQLite file: PostgreSQL's driver is natively asynchronous, and an in-memory SQLite
would be another database to a second engine (``ThreadEngine.over`` gives None for both).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = ["ThreadEngine"]

T = TypeVar("T")


class ThreadEngine:
    def __init__(self, engine: AsyncEngine, configure: Callable[[sa.Engine], None], name: str):
        self._engine = engine
        self.engine = sa.create_engine(
            engine.url.set(drivername="sqlite"), hide_parameters=True, pool_size=1, max_overflow=0
        )
        configure(self.engine)
        # One thread: a second would only take turns with the first (and the loop) for the GIL.
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=name)
        # Disposing of the engine (closing, or a test pulling the database away) drops this
        # one's connection too: the next use opens the file anew, as the engine does.
        event.listen(engine.sync_engine, "engine_disposed", self._dispose_soon)

    @classmethod
    def over(
        cls, engine: AsyncEngine, configure: Callable[[sa.Engine], None], name: str
    ) -> ThreadEngine | None:
        url = engine.url
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return cls(engine, configure, name)
        return None

    def run(self, work: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """``work(*args)`` on the thread, after what was handed to it before."""
        return asyncio.get_running_loop().run_in_executor(self._thread, work, *args)

    def _dispose_soon(self, _engine: Any) -> None:
        # After what the thread was already handed: a connection is never closed under it.
        self._thread.submit(self.engine.dispose)

    async def close(self) -> None:
        event.remove(self._engine.sync_engine, "engine_disposed", self._dispose_soon)
        # Queued after everything already handed to the thread: that finishes first.
        await self.run(self.engine.dispose)
        self._thread.shutdown(wait=False)
