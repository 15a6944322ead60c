"""A sliding-window counter per key, with the clock passed in (no I/O, no hidden time)."""

from __future__ import annotations

from collections import deque

__all__ = ["Sampler", "SlidingWindowLimiter", "TokenBucket"]


class SlidingWindowLimiter:
    """Allows at most ``limit`` hits per key within ``window_s`` seconds.

    Keys are bounded: when more than ``max_keys`` are tracked, the ones idle longest are dropped
    first, so a flood of distinct keys cannot grow memory without limit.
    """

    def __init__(self, limit: int, window_s: float, *, max_keys: int = 100_000) -> None:
        self._limit = limit
        self._window_s = window_s
        self._max_keys = max_keys
        self._hits: dict[str, deque[float]] = {}

    def _prune(self, key: str, now: float) -> deque[float]:
        hits = self._hits.get(key)
        if hits is None:
            return deque()
        while hits and hits[0] <= now - self._window_s:
            hits.popleft()
        if not hits:
            del self._hits[key]
        return hits

    def retry_after(self, key: str, now: float) -> float:
        """Seconds until ``key`` may try again; 0 when it may now."""
        hits = self._prune(key, now)
        if len(hits) < self._limit:
            return 0.0
        return max(0.0, hits[0] + self._window_s - now)

    def hit(self, key: str, now: float) -> None:
        hits = self._prune(key, now)
        if key not in self._hits:
            if len(self._hits) >= self._max_keys:
                # dicts keep insertion order; re-inserting on each hit makes the first the stalest.
                del self._hits[next(iter(self._hits))]
            self._hits[key] = hits
        else:
            self._hits[key] = self._hits.pop(key)
        hits.append(now)

    def reset(self, key: str) -> None:
        self._hits.pop(key, None)

    def forget(self, key: str, at: float) -> None:
        """Take back the one hit made at ``at`` (if it is still counted)."""
        hits = self._hits.get(key)
        if hits is not None and at in hits:
            hits.remove(at)
            if not hits:
                del self._hits[key]


class TokenBucket:
    """Allows bursts up to ``capacity`` and ``rate`` per second on average (one per socket)."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self._rate = rate
        self._capacity = capacity
        self._tokens = capacity
        self._updated = now

    def take(self, now: float) -> bool:
        self._tokens = min(self._capacity, self._tokens + (now - self._updated) * self._rate)
        self._updated = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class Sampler:
    """Counts events and says, at most once per ``interval_s``, how many came since the last
    time it said so (a flood is summarised, not recorded one by one)."""

    def __init__(self, interval_s: float) -> None:
        self.interval_s = interval_s
        self._last: float | None = None
        self._since = 0

    def due(self, now: float) -> int | None:
        self._since += 1
        if self._last is not None and now - self._last < self.interval_s:
            return None
        count, self._since, self._last = self._since, 0, now
        return count
