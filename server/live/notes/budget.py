"""A member's budget of change bytes on one notes socket: a token bucket counted in bytes, with
the clock passed in (no I/O, no hidden time)."""

from __future__ import annotations

__all__ = ["ByteBucket"]


class ByteBucket:
    """Allows ``rate`` bytes a second on average and bursts up to ``capacity`` bytes."""

    def __init__(self, rate: float, capacity: float, now: float) -> None:
        self._rate = rate
        self._capacity = capacity
        self._tokens = capacity
        self._updated = now

    def take(self, now: float, amount: int) -> bool:
        """Spend ``amount`` bytes if the budget holds them; nothing is spent otherwise."""
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self._capacity, self._tokens + elapsed * self._rate)
        self._updated = max(self._updated, now)
        if amount > self._tokens:
            return False
        self._tokens -= amount
        return True
