"""Which node runs a session's room (DESIGN.md §4: a room lives on one node, as LiveKit does).

The room's state machine runs in one process; members connected elsewhere reach it over the bus.
With Redis, the first node to claim a session owns it for ``ttl_s`` seconds and keeps the claim
alive while the room exists; if that node dies, the claim lapses and the next join claims it anew.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import redis.asyncio as aioredis

__all__ = ["MemoryDirectory", "RedisDirectory", "RoomDirectory"]


class RoomDirectory(Protocol):
    async def owner(self, session_id: str) -> str:
        """The node that runs the room, claiming it for this node when nobody does."""

    async def refresh(self, session_ids: Iterable[str]) -> None:
        """Keep this node's claims alive."""

    async def release(self, session_id: str) -> None:
        """This node no longer runs the room."""

    async def close(self) -> None: ...


class MemoryDirectory:
    """One process: every room is ours."""

    def __init__(self, node_id: str) -> None:
        self._node_id = node_id

    async def owner(self, session_id: str) -> str:
        return self._node_id

    async def refresh(self, session_ids: Iterable[str]) -> None:
        return None

    async def release(self, session_id: str) -> None:
        return None

    async def close(self) -> None:
        return None


# Delete/extend the key only while it still names us: another node may have taken over.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"
_EXTEND = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then "
    "return redis.call('expire', KEYS[1], ARGV[2]) end"
)


class RedisDirectory:
    def __init__(
        self, url: str, node_id: str, *, ttl_s: int = 15, prefix: str = "preceptor:"
    ) -> None:
        self._redis = aioredis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)
        self._node_id = node_id
        self._ttl_s = ttl_s
        self._prefix = prefix

    def _key(self, session_id: str) -> str:
        return f"{self._prefix}room-owner:{session_id}"

    async def owner(self, session_id: str) -> str:
        key = self._key(session_id)
        if await self._redis.set(key, self._node_id, nx=True, ex=self._ttl_s):
            return self._node_id
        current = await self._redis.get(key)
        if current is None:  # lapsed between the two calls
            return await self.owner(session_id)
        return current.decode() if isinstance(current, bytes) else str(current)

    async def refresh(self, session_ids: Iterable[str]) -> None:
        for session_id in session_ids:
            key = self._key(session_id)
            await self._redis.eval(_EXTEND, 1, key, self._node_id, str(self._ttl_s))

    async def release(self, session_id: str) -> None:
        await self._redis.eval(_RELEASE, 1, self._key(session_id), self._node_id)

    async def close(self) -> None:
        await self._redis.aclose()
