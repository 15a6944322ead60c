"""How much one account and one client address may ask of the sockets (issue 13).

A limit per socket alone is defeated by opening more sockets: one listed trainee made 610
connections in 10 s and relayed thousands of chats a second into a room. So:

- socket opens per minute per client address (checked before any sign-in work) and per
  account (once the sign-in is known), each endpoint counted apart. These are counted in
  Redis when the deployment has it (``Throttle``), so they hold across nodes: N nodes do
  not allow N times as many; without Redis for a while, each node counts alone;
- messages per second across all of an account's signaling sockets on this node (a token
  bucket per account, beside each socket's own): a frame is never held up by a round trip to
  Redis, and one member's sockets are one per session anyway (4409).

Abuse is refused with 1008; the caller audits it once per key and window (``first_offence``), not
once per frame or per socket. The clocks are passed in: the wall clock for the shared windows
(nodes share it), the monotonic clock for the rest.
"""

from __future__ import annotations

from server.infra.rate_limit import TokenBucket
from server.infra.throttle import MemoryThrottle, Throttle

__all__ = ["Admission"]

WINDOW_S = 60.0
_MAX_KEYS = 100_000


class Admission:
    def __init__(
        self,
        *,
        opens_per_minute_per_account: int = 30,
        opens_per_minute_per_address: int = 600,
        messages_per_s_per_account: float = 40.0,
        message_burst_per_account: float = 240.0,
        audit_every_s: float = WINDOW_S,
        opens_by_account: Throttle | None = None,
        opens_by_address: Throttle | None = None,
    ) -> None:
        """``opens_by_*``: the windows to count opens in (``RedisThrottle`` across nodes); by
        default, this process's memory with the limits above."""
        per_account, per_address = opens_per_minute_per_account, opens_per_minute_per_address
        self._by_account = opens_by_account or MemoryThrottle(per_account, WINDOW_S)
        self._by_address = opens_by_address or MemoryThrottle(per_address, WINDOW_S)
        self._rate = messages_per_s_per_account
        self._burst = message_burst_per_account
        self._buckets: dict[str, TokenBucket] = {}
        self._audit_every_s = audit_every_s
        self._audited: dict[str, float] = {}

    async def open_from_address(self, endpoint: str, address: str | None, now: float) -> bool:
        """A handshake from ``address`` at ``now`` (wall clock): counted; False once over the
        limit."""
        return await self._by_address.attempt(f"{endpoint}:{address}", now) == 0.0

    async def open_by_account(self, endpoint: str, subject: str, now: float) -> bool:
        """A handshake signed in as ``subject`` at ``now`` (wall clock): counted; False once
        over the limit."""
        return await self._by_account.attempt(f"{endpoint}:{subject}", now) == 0.0

    async def close(self) -> None:
        await self._by_account.close()
        await self._by_address.close()

    def message(self, subject: str, now: float) -> bool:
        """One frame from any of ``subject``'s sockets; False when the account is over budget."""
        bucket = self._buckets.pop(subject, None)
        if bucket is None:
            bucket = TokenBucket(self._rate, self._burst, now)
            if len(self._buckets) >= _MAX_KEYS:
                # Oldest first (re-inserted on use): an idle account's bucket is full anyway.
                del self._buckets[next(iter(self._buckets))]
        self._buckets[subject] = bucket
        return bucket.take(now)

    def first_offence(self, kind: str, key: str, now: float) -> bool:
        """True the first time ``key`` is refused for ``kind`` within the audit window: a flood
        is one audit row, not one per frame."""
        name = f"{kind}:{key}"
        last = self._audited.get(name)
        if last is not None and now - last < self._audit_every_s:
            return False
        if len(self._audited) >= _MAX_KEYS:
            del self._audited[next(iter(self._audited))]
        self._audited.pop(name, None)
        self._audited[name] = now
        return True
