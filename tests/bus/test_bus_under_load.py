"""The Redis bus on a busy node (issue 13: two nodes under ordinary load declared each other
dead). Room traffic must not hold back the heartbeats other nodes judge us by, and a loop that
is busy between its turns must still get the traffic through: one Redis round trip per message
made the bus as slow as the loop's turns. Node b judges node a as the room hub does (a
`NodeWatch` fed with both nodes' heartbeats), so a machine that is slow all over, b included,
is not mistaken for a dead node.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from server.infra.bus import RedisBus
from server.live.rooms.ownership import HEARTBEAT_S, NodeWatch
from tests.bus.test_bus_contract import next_message

pytestmark = pytest.mark.redis

REDIS = "redis://127.0.0.1:6379/0"
SECONDS = 4.0
TRAFFIC_PER_S = 3_000
TURN_MS = 3  # each turn of the loop also spends this long on other work (sockets, rooms)


@pytest.fixture
async def buses() -> AsyncIterator[tuple[RedisBus, RedisBus]]:
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    sender, listener = RedisBus(REDIS, prefix=prefix), RedisBus(REDIS, prefix=prefix)
    await sender.start()
    await listener.start()
    yield sender, listener
    await sender.close()
    await listener.close()


async def busy_turns(stop: asyncio.Event) -> None:
    while not stop.is_set():
        time.sleep(TURN_MS / 1000)  # noqa: ASYNC251 -- the point: work that holds the loop
        await asyncio.sleep(0)


async def test_heartbeats_and_traffic_keep_pace_on_a_busy_loop(
    buses: tuple[RedisBus, RedisBus],
) -> None:
    sender, listener = buses
    beats = await listener.subscribe("nodes", maxsize=1_000)
    room = await listener.subscribe("node:b", maxsize=100_000)
    while True:  # both subscriptions effective before the clock starts
        await sender.publish("nodes", b"hello")
        await sender.publish("node:b", b"hello")
        try:
            await next_message(beats, 0.2)
            await next_message(room, 0.2)
            break
        except TimeoutError:
            continue
    stop = asyncio.Event()
    busy = asyncio.create_task(busy_turns(stop))

    async def heartbeat(bus: RedisBus, node: bytes) -> None:
        while not stop.is_set():
            await bus.publish("nodes", node, urgent=True)
            await asyncio.sleep(HEARTBEAT_S)

    async def traffic() -> int:
        sent, started = 0, time.monotonic()
        while (elapsed := time.monotonic() - started) < SECONDS:
            while sent < elapsed * TRAFFIC_PER_S:
                await sender.publish("node:b", b"x" * 200)
                sent += 1
            await asyncio.sleep(0.001)
        return sent

    watch = NodeWatch("b")
    heard: list[float] = []
    judged_dead: list[float] = []

    async def listen() -> None:
        async for data in beats:
            if data in (b"a", b"b"):
                watch.heard(data.decode(), time.monotonic())
            if data == b"a":
                heard.append(time.monotonic())

    async def judge() -> None:
        while True:
            await asyncio.sleep(0.05)
            if watch.dead("a", time.monotonic()):
                judged_dead.append(time.monotonic())

    received = 0
    all_received = asyncio.Event()
    sent = -1  # until the traffic is over

    async def count() -> None:
        nonlocal received
        async for _ in room:
            received += 1
            if received == sent:
                all_received.set()

    beating = (heartbeat(sender, b"a"), heartbeat(listener, b"b"))
    tasks = [asyncio.create_task(t) for t in (*beating, listen(), judge(), count())]
    started = time.monotonic()
    sent = await traffic()
    ended = time.monotonic()
    if received == sent:
        all_received.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_received.wait(), 5)
    stop.set()
    for task in (*tasks, busy):
        task.cancel()
    await asyncio.gather(*tasks, busy, return_exceptions=True)

    during = [started, *(at for at in heard if at < ended), ended]
    gaps = [round(b - a, 2) for a, b in itertools.pairwise(during)]
    assert not judged_dead, f"a was judged dead; its heartbeats' gaps: {gaps}"
    assert (received, sender.dropped) == (sent, 0)
