"""Failed sign-in throttling, shared by every node when Redis is configured.

A per-process counter would let an attacker multiply the allowed guesses by the number of
nodes behind the load balancer. With Redis, each key is a sorted set of attempt times (one
window per key); if Redis is unreachable the node falls back to its own memory, so sign-in
keeps working and is still throttled, per node, until Redis returns.

:meth:`Throttle.attempt` checks the limit and counts the attempt in one atomic step, *before*
the caller does the expensive work (verifying a password): checking first and counting after
the work let N parallel guesses all pass a check that none of them had yet counted against.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from server.infra.rate_limit import SlidingWindowLimiter

__all__ = ["MemoryThrottle", "RedisThrottle", "Throttle"]

log = logging.getLogger("preceptor.auth")


class Throttle(Protocol):
    async def attempt(self, key: str, now: float) -> float:
        """Atomically: when ``key`` is under its limit, count one attempt at ``now`` and
        return 0; otherwise count nothing and return the seconds until it may try again."""

    async def forgive(self, key: str, now: float) -> None:
        """Forget the one attempt counted at ``now`` (it turned out to be legitimate)."""

    async def retry_after(self, key: str, now: float) -> float:
        """Seconds until ``key`` may try again; 0 when it may now."""

    async def hit(self, key: str, now: float) -> None: ...

    async def reset(self, key: str) -> None: ...

    async def close(self) -> None: ...


class MemoryThrottle:
    def __init__(self, limit: int, window_s: float) -> None:
        self._limiter = SlidingWindowLimiter(limit, window_s)

    async def attempt(self, key: str, now: float) -> float:
        # No await between the check and the count: atomic on the event loop.
        wait = self._limiter.retry_after(key, now)
        if wait <= 0:
            self._limiter.hit(key, now)
        return wait

    async def forgive(self, key: str, now: float) -> None:
        self._limiter.forget(key, now)

    async def retry_after(self, key: str, now: float) -> float:
        return self._limiter.retry_after(key, now)

    async def hit(self, key: str, now: float) -> None:
        self._limiter.hit(key, now)

    async def reset(self, key: str) -> None:
        self._limiter.reset(key)

    async def close(self) -> None:
        return None


# KEYS[1] the sorted set; ARGV: now, window_s, limit, member. Prunes the window, then either
# records the attempt (returns 0) or returns the oldest attempt's time (so the caller can say
# when to come back). One script: Redis runs it atomically, across every node.
_ATTEMPT = """
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now, ARGV[4])
  redis.call('EXPIRE', KEYS[1], math.ceil(window) + 1)
  return 'ok'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring(oldest[2])
"""

# KEYS[1] the sorted set; ARGV[1] the time of the attempt to forget (one member only).
_FORGIVE = """
local found = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1], 'LIMIT', 0, 1)
if found[1] then redis.call('ZREM', KEYS[1], found[1]) end
return 0
"""


class RedisThrottle:
    def __init__(
        self,
        url: str,
        limit: int,
        window_s: float,
        *,
        name: str,
        on_fallback: Callable[[], None] = lambda: None,
    ) -> None:
        """``on_fallback``: called for each attempt counted in memory because Redis failed (a
        metric); the first of an outage is also logged."""
        self._name = name
        self._on_fallback = on_fallback
        self._down = False
        self._redis = aioredis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        self._limit = limit
        self._window_s = window_s
        self._prefix = f"preceptor:throttle:{name}:"
        self._fallback = MemoryThrottle(limit, window_s)
        self._attempt = self._redis.register_script(_ATTEMPT)
        self._forgive = self._redis.register_script(_FORGIVE)

    async def attempt(self, key: str, now: float) -> float:
        member = f"{now!r}:{uuid.uuid4().hex[:8]}"
        try:
            oldest = await self._attempt(
                keys=[self._prefix + key], args=[repr(now), self._window_s, self._limit, member]
            )
        except (RedisError, OSError) as exc:
            self._on_fallback()
            if not self._down:
                self._down = True
                log.warning(
                    "throttle falls back to this node's memory",
                    extra={"throttle": self._name, "error": type(exc).__name__},
                )
            return await self._fallback.attempt(key, now)
        self._down = False
        if oldest in (b"ok", "ok"):
            return 0.0
        return max(0.0, float(oldest) + self._window_s - now) or 1e-3

    async def forgive(self, key: str, now: float) -> None:
        try:
            await self._forgive(keys=[self._prefix + key], args=[repr(now)])
        except (RedisError, OSError):
            await self._fallback.forgive(key, now)

    async def retry_after(self, key: str, now: float) -> float:
        name = self._prefix + key
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(name, 0, now - self._window_s)
                pipe.zcard(name)
                pipe.zrange(name, 0, 0, withscores=True)
                _, count, oldest = await pipe.execute()
        except (RedisError, OSError) as exc:
            log.warning(
                "sign-in throttle falls back to memory", extra={"error": type(exc).__name__}
            )
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
