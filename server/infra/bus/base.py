"""The message bus between processes: what every implementation promises.

Delivery is best effort (DESIGN.md §4): a subscriber that falls behind loses the oldest messages
and whoever needs every message catches up from the database. Channels are plain strings such as
``session:<id>``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Protocol

__all__ = ["Bus", "Subscription"]


class Subscription:
    """Messages of one channel for one listener, in a bounded queue."""

    def __init__(self, channel: str, maxsize: int, on_close: Callable[[Subscription], None]):
        self.channel = channel
        self.dropped = 0
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize)
        self._on_close = on_close
        self._closed = False

    def deliver(self, data: bytes) -> None:
        if self._closed:
            return
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
        self._queue.put_nowait(data)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._on_close(self)
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        item = await self._queue.get()
        if item is None:
            raise StopAsyncIteration
        return item


class Bus(Protocol):
    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, channel: str, data: bytes, *, urgent: bool = False) -> None:
        """Queue ``data`` for every subscriber of ``channel`` on every node; never raises.
        ``urgent`` messages (heartbeats) go ahead of what is queued and are never dropped for
        a full queue."""

    async def subscribe(self, channel: str, *, maxsize: int = 1000) -> Subscription: ...

    async def ping(self) -> bool:
        """True when the bus can carry messages between nodes right now."""
