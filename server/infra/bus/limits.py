"""Sliding-window limits that hold across nodes: counted in Redis when the bus is Redis, so N
nodes allow what one does, not N times as much (issue 13); in memory for one process.

Redis's errors are mapped here, at the bus boundary: while Redis is away each node counts in its
own memory (still limited, per node), every such fall-back is counted (``on_fallback``, for
``/metrics``) and the first of an outage is logged. Nothing already admitted depends on Redis.
The clock is passed in and is the wall clock: nodes share it, not their monotonic clocks.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from server.infra.rate_limit import SlidingWindowLimiter

__all__ = ["MemoryWindow", "RedisWindow", "SharedWindow"]

log = logging.getLogger("preceptor.bus")


class SharedWindow(Protocol):
    async def take(self, key: str, now: float) -> bool:
        """Atomically: when ``key`` has had fewer than the limit within the window, count one
        at ``now`` and return True; otherwise count nothing and return False."""

    async def close(self) -> None: ...


class MemoryWindow:
    def __init__(self, limit: int, window_s: float) -> None:
        self._limiter = SlidingWindowLimiter(limit, window_s)

    async def take(self, key: str, now: float) -> bool:
        # No await between the check and the count: atomic on the event loop.
        if self._limiter.retry_after(key, now) > 0:
            return False
        self._limiter.hit(key, now)
        return True

    async def close(self) -> None:
        return None


# KEYS[1] the key's sorted set of times; ARGV: now, window_s, limit, a unique member. One script,
# so Redis checks and counts in one step for every node at once.
_TAKE = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('EXPIRE', KEYS[1], math.ceil(window) + 1)
  return 1
end
return 0
"""


class RedisWindow:
    def __init__(
        self,
        url: str,
        limit: int,
        window_s: float,
        *,
        name: str,
        on_fallback: Callable[[], None] = lambda: None,
    ) -> None:
        # Short timeouts: a handshake waits on this, and a node without Redis counts locally.
        self._redis = aioredis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        self._limit = limit
        self._window_s = window_s
        self._prefix = f"preceptor:limit:{name}:"
        self._script = self._redis.register_script(_TAKE)
        self._fallback = MemoryWindow(limit, window_s)
        self._down = False
        self._on_fallback = on_fallback

    async def take(self, key: str, now: float) -> bool:
        member = f"{now!r}:{uuid.uuid4().hex[:8]}"
        try:
            taken = await self._script(
                keys=[self._prefix + key], args=[repr(now), self._window_s, self._limit, member]
            )
        except (RedisError, OSError) as exc:
            self._on_fallback()
            if not self._down:
                self._down = True
                log.warning(
                    "shared limits fall back to this node's memory",
                    extra={"error": type(exc).__name__},
                )
            return await self._fallback.take(key, now)
        self._down = False
        return bool(taken)

    async def close(self) -> None:
        await self._redis.aclose()
