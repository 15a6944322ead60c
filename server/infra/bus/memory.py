"""The bus of a single process: subscribers are in the same memory."""

from __future__ import annotations

from collections import defaultdict

from server.infra.bus.base import Subscription

__all__ = ["MemoryBus"]


class MemoryBus:
    def __init__(self) -> None:
        self._subscriptions: defaultdict[str, set[Subscription]] = defaultdict(set)

    async def start(self) -> None:
        return None

    async def close(self) -> None:
        for subscriptions in list(self._subscriptions.values()):
            for subscription in list(subscriptions):
                subscription.close()

    async def publish(self, channel: str, data: bytes, *, urgent: bool = False) -> None:
        for subscription in list(self._subscriptions.get(channel, ())):
            subscription.deliver(data)

    async def subscribe(self, channel: str, *, maxsize: int = 1000) -> Subscription:
        subscription = Subscription(channel, maxsize, self._forget)
        self._subscriptions[channel].add(subscription)
        return subscription

    def _forget(self, subscription: Subscription) -> None:
        subscriptions = self._subscriptions.get(subscription.channel)
        if subscriptions is not None:
            subscriptions.discard(subscription)
            if not subscriptions:
                del self._subscriptions[subscription.channel]

    async def ping(self) -> bool:
        return True
