"""The process's garbage collector (server/infra/collector.py): a full collection walks what was
made since the last one, not everything the node holds, and nothing is kept for good."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from server.infra.collector import Collector
from tests.support import wait_for


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


@pytest.fixture
def collector() -> Iterator[Collector]:
    loop = asyncio.new_event_loop()
    collector = Collector(reclaim_every_s=3600)
    collector.start(loop)
    try:
        yield collector
    finally:
        # Process-wide state: the next test in this worker finds the collector as it was.
        collector.stop()
        gc.unfreeze()
        loop.close()


def _tracked() -> int:
    """How many objects a full collection walks now."""
    return len(gc.get_objects())


def test_a_full_collection_walks_only_what_was_made_since_the_last(
    collector: Collector,
) -> None:
    held = [_Node() for _ in range(50_000)]  # a node's long-lived state
    gc.collect()
    assert _tracked() < 5_000, "what survived is walked again by every full collection"
    newer = [_Node() for _ in range(1_000)]
    assert 1_000 <= _tracked() < 6_000
    gc.collect()
    assert _tracked() < 5_000
    assert len(held) + len(newer) == 51_000


def test_frozen_objects_are_still_freed_with_their_last_reference(collector: Collector) -> None:
    node = _Node()
    gone = weakref.ref(node)
    gc.collect()  # frozen now
    del node
    assert gone() is None


def test_reclaiming_frees_a_cycle_among_frozen_objects(collector: Collector) -> None:
    first, second = _Node(), _Node()
    first.other, second.other = second, first
    gone = weakref.ref(first)
    gc.collect()  # the cycle survives (it is referenced) and is frozen
    del first, second
    gc.collect()
    assert gone() is not None, "a frozen cycle is not collected by an ordinary collection"
    assert collector.reclaim() >= 2
    assert gone() is None


async def test_reclaims_come_by_themselves() -> None:
    collector = Collector(reclaim_every_s=0.05)
    collector.start(asyncio.get_running_loop())
    try:
        first, second = _Node(), _Node()
        first.other, second.other = second, first
        gone = weakref.ref(first)
        gc.collect()
        del first, second

        async def reclaimed() -> bool:
            return gone() is None

        await wait_for(reclaimed, timeout=5)
    finally:
        collector.stop()
        gc.unfreeze()
