"""The sign-in throttle contract, in memory and on the machine's Redis, plus the fallback."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from server.infra.throttle import MemoryThrottle, RedisThrottle, Throttle


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def throttle(request: pytest.FixtureRequest) -> AsyncIterator[Throttle]:
    made: Throttle
    if request.param == "memory":
        made = MemoryThrottle(3, 60)
    else:
        made = RedisThrottle("redis://127.0.0.1:6379/0", 3, 60, name=uuid.uuid4().hex)
    yield made
    await made.close()


async def test_three_failures_then_wait_for_the_oldest(throttle: Throttle) -> None:
    for t in (1000.0, 1010.0, 1020.0):
        assert await throttle.retry_after("a@example.org", t) == 0
        await throttle.hit("a@example.org", t)
    assert await throttle.retry_after("a@example.org", 1030.0) == pytest.approx(30.0)
    assert await throttle.retry_after("b@example.org", 1030.0) == 0
    assert await throttle.retry_after("a@example.org", 1061.0) == 0
    await throttle.hit("a@example.org", 1061.0)
    await throttle.reset("a@example.org")
    assert await throttle.retry_after("a@example.org", 1062.0) == 0


@pytest.mark.redis
async def test_nodes_share_the_count_through_redis() -> None:
    name = uuid.uuid4().hex
    node_a = RedisThrottle("redis://127.0.0.1:6379/0", 2, 60, name=name)
    node_b = RedisThrottle("redis://127.0.0.1:6379/0", 2, 60, name=name)
    await node_a.hit("k", 100.0)
    await node_b.hit("k", 101.0)
    assert await node_a.retry_after("k", 102.0) > 0
    assert await node_b.retry_after("k", 102.0) > 0
    await node_a.close()
    await node_b.close()


async def test_without_redis_it_still_throttles_in_memory() -> None:
    unreachable = RedisThrottle("redis://127.0.0.1:1/0", 1, 60, name="x")
    await unreachable.hit("k", 10.0)
    assert await unreachable.retry_after("k", 11.0) > 0
    await unreachable.close()
