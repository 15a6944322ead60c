"""Which node runs a session's room (DESIGN.md §4: a room lives on one node, as LiveKit does).

The room's state machine runs in one process; members connected elsewhere reach it over the bus.
With Redis, a node claims a room as ``node|generation`` (see :mod:`.ownership` for the rules that
keep two owners from ever both acting). Redis's errors stop here: every failure to reach it is
:class:`DirectoryUnavailable` (issue 13: an unmapped error used to close joins with 1000).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from server.live.rooms.ownership import CLAIM_TTL_S, LEASE_S, SILENT_CLAIM_S, Claim

__all__ = ["DirectoryUnavailable", "MemoryDirectory", "RedisDirectory", "RoomDirectory"]


class DirectoryUnavailable(Exception):
    """The directory cannot be reached now; try again shortly."""


class RoomDirectory(Protocol):
    async def owner(self, session_id: str) -> Claim | None:
        """The room's current claim, None when nobody holds it."""

    async def claim(
        self, session_id: str, *, floor: int = 0, replace: Claim | None = None
    ) -> Claim | None:
        """Claim the room for this node when it is vacant, or when it is held by ``replace`` (a
        dead owner) and was not renewed for ``SILENT_CLAIM_S`` (else it is still acting). The
        claim in force afterwards: ours, someone else's, or None when no vacant
        claim may be granted yet (Redis just came back: try again shortly). ``floor``: the
        highest generation the caller has seen for the room."""

    async def renew(self, claims: Sequence[Claim]) -> list[Claim | None]:
        """Keep our claims alive, re-claiming any that lapsed (Redis was away or forgot them);
        for each, the claim in force: ours, someone else's (we were fenced off), or None."""

    async def release(self, claim: Claim) -> None:
        """This node no longer runs the room."""

    async def remember_routed(self, session_id: str) -> None:
        """The session's "auto" room went routed: wherever it is rebuilt, it starts so."""

    async def was_routed(self, session_id: str) -> bool:
        """Whether the session's room went routed on any node (for ``ROUTED_TTL_S``)."""

    async def close(self) -> None: ...


ROUTED_TTL_S = 24 * 3600
"""How long a room's switch to routed is remembered: longer than any sign-in (12 hours)."""
_MAX_REMEMBERED = 10_000


class MemoryDirectory:
    """One process: every room is ours."""

    def __init__(self, node_id: str) -> None:
        self._node_id = node_id
        self._routed: dict[str, None] = {}  # insertion-ordered: the oldest go first

    async def owner(self, session_id: str) -> Claim | None:
        return Claim(session_id, self._node_id, 1)

    async def claim(
        self, session_id: str, *, floor: int = 0, replace: Claim | None = None
    ) -> Claim | None:
        return Claim(session_id, self._node_id, 1)

    async def renew(self, claims: Sequence[Claim]) -> list[Claim | None]:
        return list(claims)

    async def release(self, claim: Claim) -> None:
        return None

    async def remember_routed(self, session_id: str) -> None:
        self._routed[session_id] = None
        while len(self._routed) > _MAX_REMEMBERED:
            del self._routed[next(iter(self._routed))]

    async def was_routed(self, session_id: str) -> bool:
        return session_id in self._routed

    async def close(self) -> None:
        return None


# Redis's clock (TIME) in ms, and the quarantine after a restart: the first script to run on a
# Redis that lost its data sets `up-since`; vacant claims wait LEASE_S from then.
_CLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local up = tonumber(redis.call('get', KEYS[1]) or '0')
if up == 0 then redis.call('set', KEYS[1], now); up = now end
local open = now - up >= tonumber(ARGV[3])
"""

# KEYS: up-since, generation counter, claim. ARGV: node, ttl ms, quarantine ms, floor, replace,
# silent ms (a claim is replaced only when its owner has not renewed it for that long).
_CLAIM = (
    _CLOCK
    + """
local current = redis.call('get', KEYS[3])
if current and current ~= ARGV[5] then return current end
if current and redis.call('pttl', KEYS[3]) > tonumber(ARGV[2]) - tonumber(ARGV[6]) then
  return current
end
if not current and not open then return '' end
local gen = redis.call('incr', KEYS[2])
if gen <= tonumber(ARGV[4]) then gen = tonumber(ARGV[4]) + 1; redis.call('set', KEYS[2], gen) end
redis.call('expire', KEYS[2], 86400)
local value = ARGV[1] .. '|' .. gen
redis.call('set', KEYS[3], value, 'PX', ARGV[2])
return value
"""
)

# KEYS: up-since, then (claim, generation counter) per room. ARGV: -, ttl ms, quarantine ms,
# then our claim's value and generation per room (room j: KEYS[2+2j], ARGV[4+2j]).
_RENEW = (
    _CLOCK
    + """
local out = {}
for i = 2, #KEYS, 2 do
  local mine = ARGV[i + 2]
  local current = redis.call('get', KEYS[i])
  if current == mine then
    redis.call('pexpire', KEYS[i], ARGV[2])
    table.insert(out, mine)
  elseif not current and open then
    redis.call('set', KEYS[i], mine, 'PX', ARGV[2])
    local gen = tonumber(ARGV[i + 3])
    if tonumber(redis.call('get', KEYS[i + 1]) or '0') < gen then
      redis.call('set', KEYS[i + 1], gen, 'EX', 86400)
    end
    table.insert(out, mine)
  elseif not current then
    table.insert(out, '')
  else
    table.insert(out, current)
  end
end
return out
"""
)

_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end"


class RedisDirectory:
    def __init__(self, url: str, node_id: str, *, prefix: str = "preceptor:") -> None:
        # No retries inside redis-py (its default backs off for up to seconds per command): the
        # lease task asks again every RENEW_S, and a join waits for an answer.
        self._redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=1, socket_timeout=1, retry=Retry(NoBackoff(), 0)
        )
        self._node_id = node_id
        self._prefix = prefix
        self._ttl_ms = str(int(CLAIM_TTL_S * 1000))
        self._quarantine_ms = str(int(LEASE_S * 1000))
        self._silent_ms = str(int(SILENT_CLAIM_S * 1000))
        self._claim = self._redis.register_script(_CLAIM)
        self._renew = self._redis.register_script(_RENEW)
        self._release = self._redis.register_script(_RELEASE)

    def _key(self, session_id: str) -> str:
        return f"{self._prefix}room-owner:{session_id}"

    def _routed_key(self, session_id: str) -> str:
        return f"{self._prefix}room-routed:{session_id}"

    def _generation_key(self, session_id: str) -> str:
        return f"{self._prefix}room-generation:{session_id}"

    @property
    def _up_since(self) -> str:
        return f"{self._prefix}directory-up-since"

    async def owner(self, session_id: str) -> Claim | None:
        try:
            current = await self._redis.get(self._key(session_id))
        except (RedisError, OSError) as exc:
            raise DirectoryUnavailable(type(exc).__name__) from exc
        return None if current is None else Claim.parse(session_id, _text(current))

    async def claim(
        self, session_id: str, *, floor: int = 0, replace: Claim | None = None
    ) -> Claim | None:
        keys = [self._up_since, self._generation_key(session_id), self._key(session_id)]
        replaced = replace.value if replace is not None else ""
        args: list[str | int] = [
            self._node_id,
            self._ttl_ms,
            self._quarantine_ms,
            floor,
            replaced,
            self._silent_ms,
        ]
        try:
            current = _text(await self._claim(keys=keys, args=args))
        except (RedisError, OSError) as exc:
            raise DirectoryUnavailable(type(exc).__name__) from exc
        return Claim.parse(session_id, current) if current else None

    async def renew(self, claims: Sequence[Claim]) -> list[Claim | None]:
        if not claims:
            return []
        keys = [self._up_since]
        args: list[str | int] = ["", self._ttl_ms, self._quarantine_ms]
        for claim in claims:
            keys += [self._key(claim.session), self._generation_key(claim.session)]
            args += [claim.value, claim.generation]
        try:
            found = await self._renew(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            raise DirectoryUnavailable(type(exc).__name__) from exc
        return [
            Claim.parse(claim.session, _text(v)) if _text(v) else None
            for claim, v in zip(claims, found, strict=True)
        ]

    async def release(self, claim: Claim) -> None:
        try:
            await self._release(keys=[self._key(claim.session)], args=[claim.value])
        except (RedisError, OSError) as exc:
            raise DirectoryUnavailable(type(exc).__name__) from exc

    async def remember_routed(self, session_id: str) -> None:
        try:
            await self._redis.set(self._routed_key(session_id), "1", ex=ROUTED_TTL_S)
        except (RedisError, OSError) as exc:
            raise DirectoryUnavailable(type(exc).__name__) from exc

    async def was_routed(self, session_id: str) -> bool:
        try:
            return bool(await self._redis.exists(self._routed_key(session_id)))
        except (RedisError, OSError) as exc:
            raise DirectoryUnavailable(type(exc).__name__) from exc

    async def close(self) -> None:
        await self._redis.aclose()


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
