"""Failed sign-in throttling, shared by every node when Redis is configured.

A per-process counter would let an attacker multiply the allowed guesses by the number of
nodes behind the load balancer. With Redis, each key is a sorted set of failure times (one
window per key); if Redis is unreachable the node falls back to its own memory, so sign-in
keeps working and is still throttled, per node, until Redis returns.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from server.infra.rate_limit import SlidingWindowLimiter

__all__ = ["MemoryThrottle", "RedisThrottle", "Throttle"]

log = logging.getLogger("preceptor.auth")


class Throttle(Protocol):
    async def retry_after(self, key: str, now: float) -> float:
        """Seconds until ``key`` may try again; 0 when it may now."""

    async def hit(self, key: str, now: float) -> None: ...

    async def reset(self, key: str) -> None: ...

    async def close(self) -> None: ...


class MemoryThrottle:
    def __init__(self, limit: int, window_s: float) -> None:
        self._limiter = SlidingWindowLimiter(limit, window_s)

    async def retry_after(self, key: str, now: float) -> float:
        return self._limiter.retry_after(key, now)

    async def hit(self, key: str, now: float) -> None:
        self._limiter.hit(key, now)

    async def reset(self, key: str) -> None:
        self._limiter.reset(key)

    async def close(self) -> None:
        return None


class RedisThrottle:
    def __init__(self, url: str, limit: int, window_s: float, *, name: str) -> None:
        self._redis = aioredis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        self._limit = limit
        self._window_s = window_s
        self._prefix = f"preceptor:throttle:{name}:"
        self._fallback = MemoryThrottle(limit, window_s)

    async def retry_after(self, key: str, now: float) -> float:
        name = self._prefix + key
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(name, 0, now - self._window_s)
                pipe.zcard(name)
                pipe.zrange(name, 0, 0, withscores=True)
                _, count, oldest = await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning("sign-in throttle falls back to memory", extra={"error": str(exc)})
            return await self._fallback.retry_after(key, now)
        if count < self._limit or not oldest:
            return 0.0
        return max(0.0, float(oldest[0][1]) + self._window_s - now)

    async def hit(self, key: str, now: float) -> None:
        name = self._prefix + key
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zadd(name, {f"{now!r}:{uuid.uuid4().hex[:8]}": now})
                pipe.expire(name, int(self._window_s) + 1)
                await pipe.execute()
        except (RedisError, OSError):
            await self._fallback.hit(key, now)

    async def reset(self, key: str) -> None:
        with contextlib.suppress(RedisError, OSError):
            await self._redis.delete(self._prefix + key)
        await self._fallback.reset(key)

    async def close(self) -> None:
        await self._redis.aclose()
