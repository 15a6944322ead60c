"""The room directory's Redis scripts (issue 13): claims with generations, renewal that fences a
replaced owner off, take-over from a dead owner, the quarantine after Redis forgot its claims,
and Redis's errors mapped to one exception."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from server.live.rooms.directory import DirectoryUnavailable, RedisDirectory
from server.live.rooms.ownership import LEASE_S, SILENT_CLAIM_S, Claim
from tests.support import free_port, wait_for

pytestmark = pytest.mark.redis

URL = "redis://127.0.0.1:6379/0"


async def test_claims_are_fenced_by_their_generation() -> None:
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    a, b = RedisDirectory(URL, "a", prefix=prefix), RedisDirectory(URL, "b", prefix=prefix)
    raw = aioredis.Redis.from_url(URL)
    try:
        # A Redis the directory has not seen grants no vacant claim for LEASE_S (it may have
        # restarted under an owner that still acts on its lease).
        assert await a.claim("s") is None
        await asyncio.sleep(LEASE_S)
        mine = await a.claim("s")
        assert mine == Claim("s", "a", 1)
        assert await b.claim("s") == mine  # held: b learns who runs it
        assert await b.owner("s") == mine
        assert await a.renew([mine]) == [mine]
        # b thinks a dead (its heartbeats are late), but a renewed just now: a still acts on
        # its lease, so the room stays a's...
        assert await b.claim("s", floor=1, replace=mine) == mine
        # ...until a has stopped renewing for SILENT_CLAIM_S: then b takes the room over, with
        # a higher generation...
        await asyncio.sleep(SILENT_CLAIM_S)
        taken = await b.claim("s", floor=1, replace=mine)
        assert taken == Claim("s", "b", 2)
        # ...and a, should it still be alive, is told so when it renews: fenced off.
        assert await a.renew([mine]) == [taken]
        await b.release(mine)  # not b's claim to release
        assert await a.owner("s") == taken
        # Redis forgets everything (a restart without persistence): quarantined, then the
        # owner takes its own claim back, and the generation never goes down.
        await raw.delete(*[k async for k in raw.scan_iter(f"{prefix}*")])
        assert await b.renew([taken]) == [None]
        # Renewing as the owner does, until the quarantine (one lease) is over.

        async def reclaimed() -> bool:
            return await b.renew([taken]) == [taken]

        await wait_for(reclaimed, timeout=LEASE_S + 2)
        await b.release(taken)
        assert await a.owner("s") is None
        assert await a.claim("s") == Claim("s", "a", 3)
    finally:
        await raw.delete(*[k async for k in raw.scan_iter(f"{prefix}*")])
        await raw.aclose()
        await a.close()
        await b.close()


async def test_an_unreachable_redis_is_one_mapped_error() -> None:
    directory = RedisDirectory(f"redis://127.0.0.1:{free_port()}/0", "a")
    try:
        for call in (
            directory.owner("s"),
            directory.claim("s"),
            directory.renew([Claim("s", "a", 1)]),
            directory.release(Claim("s", "a", 1)),
        ):
            with pytest.raises(DirectoryUnavailable):
                await call
    finally:
        await directory.close()
