"""One contract for the bus, run against the in-memory bus and the machine's Redis."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.infra.bus import Bus, MemoryBus, RedisBus, Subscription
from tests.support import free_port, private_redis, wait_for


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def bus_pair(request: pytest.FixtureRequest) -> AsyncIterator[tuple[Bus, Bus]]:
    """Two nodes' buses: one shared MemoryBus, or two RedisBus clients on one Redis."""
    if request.param == "memory":
        bus = MemoryBus()
        await bus.start()
        yield bus, bus
        await bus.close()
    else:
        prefix = f"test-{uuid.uuid4().hex[:8]}:"
        a = RedisBus("redis://127.0.0.1:6379/0", prefix=prefix)
        b = RedisBus("redis://127.0.0.1:6379/0", prefix=prefix)
        await a.start()
        await b.start()
        yield a, b
        await a.close()
        await b.close()


async def next_message(subscription: Subscription, timeout: float = 5) -> bytes:
    async with asyncio.timeout(timeout):
        return await anext(subscription)


async def receive_within(subscription: Subscription, timeout: float) -> bytes | None:
    try:
        return await next_message(subscription, timeout)
    except TimeoutError:
        return None


async def _deliver_until_received(
    publisher: Bus, channel: str, subscription: Subscription, payload: bytes
) -> None:
    """Publish until ``payload`` arrives, then drain any extra copies.

    A subscription on another node becomes effective a moment after subscribe() returns, and
    delivery is best effort by contract. Messages from one publisher keep their order, so once a
    unique marker published afterwards arrives, nothing older is still in flight.
    """

    async def arrived() -> bool:
        await publisher.publish(channel, payload)
        return await receive_within(subscription, 0.1) == payload

    await wait_for(arrived, timeout=5)
    marker = uuid.uuid4().bytes
    await publisher.publish(channel, marker)
    while (message := await next_message(subscription)) != marker:
        assert message == payload


async def test_messages_reach_every_subscriber_of_the_channel(bus_pair: tuple[Bus, Bus]) -> None:
    a, b = bus_pair
    on_b = await b.subscribe("session:1")
    other = await b.subscribe("session:2")
    await _deliver_until_received(a, "session:1", on_b, b"hello")
    for i in range(20):
        await a.publish("session:1", f"m{i}".encode())
    received = [await next_message(on_b) for _ in range(20)]
    assert received == [f"m{i}".encode() for i in range(20)]
    assert await receive_within(other, 0.2) is None


async def test_closed_subscription_ends_iteration(bus_pair: tuple[Bus, Bus]) -> None:
    a, _ = bus_pair
    subscription = await a.subscribe("session:x")
    subscription.close()
    with pytest.raises(StopAsyncIteration):
        await next_message(subscription)


async def test_slow_subscriber_loses_oldest_not_newest(bus_pair: tuple[Bus, Bus]) -> None:
    a, b = bus_pair
    subscription = await b.subscribe("session:slow", maxsize=5)
    await _deliver_until_received(a, "session:slow", subscription, b"ready")
    for i in range(50):
        await a.publish("session:slow", str(i).encode())

    async def all_arrived() -> bool:
        return subscription.dropped >= 45

    await wait_for(all_arrived)
    assert [await next_message(subscription) for _ in range(5)] == [
        str(i).encode() for i in range(45, 50)
    ]


async def test_ping(bus_pair: tuple[Bus, Bus]) -> None:
    a, b = bus_pair
    assert await a.ping()
    assert await b.ping()


@pytest.mark.redis
async def test_redis_outage_degrades_then_recovers_by_itself(tmp_path: Path) -> None:
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    with private_redis(port, tmp_path):
        publisher, listener = RedisBus(url), RedisBus(url)
        await publisher.start()
        await listener.start()
        try:
            await wait_for(publisher.ping)
            subscription = await listener.subscribe("session:r")
            await _deliver_until_received(publisher, "session:r", subscription, b"before")
        except BaseException:
            await publisher.close()
            await listener.close()
            raise
    try:
        assert not await publisher.ping()
        await publisher.publish("session:r", b"during")  # must not raise
        with private_redis(port, tmp_path):
            await wait_for(publisher.ping, timeout=10)
            await _deliver_until_received(publisher, "session:r", subscription, b"after")
    finally:
        await publisher.close()
        await listener.close()
