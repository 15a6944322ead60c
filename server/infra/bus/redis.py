"""The bus across processes and nodes: Redis pub/sub.

One reader task owns the pub/sub connection and one writer task publishes from a bounded queue
(a task per message exhausted redis-py's pool and reordered messages, DESIGN.md §3b). The writer
sends everything queued in one pipelined round trip: one round trip per message made the bus as
slow as the loop's turns on a busy node, and the heartbeats queued behind room traffic made the
other node declare it dead (issue 13). Urgent messages (heartbeats) go ahead of the queue and are
never dropped for a full one. When Redis goes away both tasks retry with backoff and the reader
re-subscribes every channel on return, so delivery resumes by itself; meanwhile :meth:`ping`
reports False and ``/readyz`` degrades.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict, deque

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from server.infra.bus.base import Subscription

__all__ = ["PREFIX", "RedisBus"]

log = logging.getLogger("preceptor.bus")

# Capped low: rooms pick up within ~2 s of Redis's return (issue 13); a refused connect is cheap.
_BACKOFF_S = (0.1, 0.25, 0.5)
_OUTBOX_SIZE = 10_000
_BATCH = 1_000  # messages per pipelined round trip
_URGENT_KEPT = 16  # an outage keeps only the latest urgent messages (old heartbeats say nothing)
# What every channel is called in Redis: this + the bus's channel name.
PREFIX = "preceptor:"


class RedisBus:
    def __init__(self, url: str, *, prefix: str = PREFIX) -> None:
        self._redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=2, socket_timeout=5, health_check_interval=10
        )
        self._prefix = prefix
        self._subscriptions: defaultdict[str, set[Subscription]] = defaultdict(set)
        self._outbox: deque[tuple[str, bytes]] = deque()
        self._urgent: deque[tuple[str, bytes]] = deque(maxlen=_URGENT_KEPT)
        self._to_write = asyncio.Event()
        self._channels_changed = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self.dropped = 0

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._read_forever(), name="bus-reader"),
            asyncio.create_task(self._write_forever(), name="bus-writer"),
        ]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for subscriptions in list(self._subscriptions.values()):
            for subscription in list(subscriptions):
                subscription.close()
        await self._redis.aclose()

    async def publish(self, channel: str, data: bytes, *, urgent: bool = False) -> None:
        message = (self._prefix + channel, data)
        if urgent:
            self._urgent.append(message)
        elif len(self._outbox) < _OUTBOX_SIZE:
            self._outbox.append(message)
        else:
            self.dropped += 1
            return
        self._to_write.set()

    async def subscribe(self, channel: str, *, maxsize: int = 1000) -> Subscription:
        subscription = Subscription(channel, maxsize, self._forget)
        first = not self._subscriptions[channel]
        self._subscriptions[channel].add(subscription)
        if first:
            self._channels_changed.set()
        return subscription

    def _forget(self, subscription: Subscription) -> None:
        subscriptions = self._subscriptions.get(subscription.channel)
        if subscriptions is not None:
            subscriptions.discard(subscription)
            if not subscriptions:
                del self._subscriptions[subscription.channel]
                self._channels_changed.set()

    async def ping(self) -> bool:
        try:
            return bool(await asyncio.wait_for(self._redis.ping(), 2))
        except (RedisError, OSError, TimeoutError):
            return False

    def _next_batch(self) -> list[tuple[str, bytes]]:
        batch = list(self._urgent)
        self._urgent.clear()
        while self._outbox and len(batch) < _BATCH:
            batch.append(self._outbox.popleft())
        if not self._outbox:
            self._to_write.clear()
        return batch

    async def _write_forever(self) -> None:
        attempt = 0
        while True:
            await self._to_write.wait()
            batch = self._next_batch()
            while True:
                try:
                    # Not a transaction: Redis runs the PUBLISHes in order, and a failure
                    # part-way retries the whole batch (delivery is at least best effort).
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for channel, data in batch:
                            pipe.publish(channel, data)
                        await pipe.execute()
                    attempt = 0
                    break
                except (RedisError, OSError) as exc:
                    delay = _BACKOFF_S[min(attempt, len(_BACKOFF_S) - 1)]
                    if attempt == 0:
                        log.warning(
                            "bus publish failed, retrying", extra={"error": type(exc).__name__}
                        )
                    attempt += 1
                    await asyncio.sleep(delay)

    async def _read_forever(self) -> None:
        attempt = 0
        while True:
            pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
            try:
                subscribed: set[str] = set()
                self._channels_changed.set()
                while True:
                    if self._channels_changed.is_set():  # not per message: hundreds of channels
                        wanted = {self._prefix + channel for channel in self._subscriptions}
                        self._channels_changed.clear()
                        if wanted - subscribed:
                            await pubsub.subscribe(*(wanted - subscribed))
                        if subscribed - wanted:
                            await pubsub.unsubscribe(*(subscribed - wanted))
                        subscribed = wanted
                    if attempt:
                        log.info("bus reconnected", extra={"channels": len(subscribed)})
                        attempt = 0
                    if not subscribed:
                        await self._channels_changed.wait()
                        continue
                    # Short timeout so a newly wanted channel is subscribed promptly.
                    message = await pubsub.get_message(timeout=0.05)
                    if message is not None and message.get("type") == "message":
                        self._dispatch(message["channel"], message["data"])
            except (RedisError, OSError) as exc:
                delay = _BACKOFF_S[min(attempt, len(_BACKOFF_S) - 1)]
                if attempt == 0:
                    log.warning(
                        "bus connection lost, reconnecting", extra={"error": type(exc).__name__}
                    )
                attempt += 1
                await asyncio.sleep(delay)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _dispatch(self, raw_channel: bytes | str, data: bytes) -> None:
        channel = raw_channel.decode() if isinstance(raw_channel, bytes) else raw_channel
        for subscription in list(self._subscriptions.get(channel[len(self._prefix) :], ())):
            subscription.deliver(data)
