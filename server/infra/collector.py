"""How the process's garbage collector runs: pauses that follow what is new, not the node's size.

A full collection walks every object the collector tracks. A node holding 2,000 signaling sockets
tracks ~180,000 of them (~90 a socket), and each full collection held the event loop for 39 to
124 ms (1,000 to 2,000 sockets, the test machine); CPython starts one each time the objects that
survived earlier collections grow by a quarter, so a node taking a burst of joins paused several
times in it, each pause holding up every join in flight: most of a burst's p99 (issue 8,
bench/README.md).

Here what survives a full collection is frozen (``gc.freeze``: kept where collections do not
look), so the next one walks only what was made since. Frozen objects are still freed when their
last reference goes, and a socket's are (2,000 sockets closed left no cycle behind). A reference
cycle among frozen objects stays, though, and a node's traffic makes some (the two-node soak's
reloads, chat and notes: ~3.5 MiB a minute a node, bench/README.md). So every
``reclaim_every_s`` everything is unfrozen and collected once: a pause of the old size every two
minutes, never several in a burst of joins; between two, the cycles hold what two minutes of
traffic left. What start-up built is frozen at once, as it lives as long as the process (a full
collection walking it was the p95 of a 500-session trainee's progress: ~125 ms against ~70 ms).

Process-wide, so started once, by the process that serves (server/serving.py), not by the app:
a test process builds many apps.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from typing import Any

__all__ = ["Collector"]

log = logging.getLogger("preceptor.collector")

_OLDEST = 2


class Collector:
    def __init__(self, *, reclaim_every_s: float = 120.0) -> None:
        self._reclaim_every_s = reclaim_every_s
        self._timer: asyncio.TimerHandle | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        gc.freeze()
        gc.callbacks.append(self._collected)
        self._timer = loop.call_later(self._reclaim_every_s, self._reclaim_soon, loop)

    def stop(self) -> None:
        if self._collected in gc.callbacks:
            gc.callbacks.remove(self._collected)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def reclaim(self) -> int:
        """Collect everything once, frozen objects included; the number of objects freed."""
        started = time.perf_counter()
        gc.unfreeze()
        freed = gc.collect()  # and _collected freezes what is left
        log.info(
            "full collection",
            extra={"freed": freed, "ms": round((time.perf_counter() - started) * 1000, 1)},
        )
        return freed

    def _reclaim_soon(self, loop: asyncio.AbstractEventLoop) -> None:
        self.reclaim()
        self._timer = loop.call_later(self._reclaim_every_s, self._reclaim_soon, loop)

    @staticmethod
    def _collected(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop" and info["generation"] == _OLDEST:
            gc.freeze()
