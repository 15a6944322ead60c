"""The bus between processes: in memory (one process) or Redis pub/sub (several)."""

from __future__ import annotations

from server.infra.bus.base import Bus, Subscription
from server.infra.bus.memory import MemoryBus
from server.infra.bus.redis import RedisBus

__all__ = [
    "Bus",
    "MemoryBus",
    "RedisBus",
    "Subscription",
    "open_bus",
]


def open_bus(redis_url: str | None) -> Bus:
    return MemoryBus() if redis_url is None else RedisBus(redis_url)
