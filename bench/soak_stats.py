"""What bench/soak.py keeps and judges: latency samples by time, and whether a sampled resource
series (RSS, open fds, tasks) stays flat after the warm-up."""

from __future__ import annotations

import bisect
import statistics
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = [
    "DOCS",
    "RSS",
    "RSS_LESS_DOCS",
    "Flatness",
    "Sample",
    "Series",
    "bound",
    "flatness",
    "judged",
]


@dataclass
class Series:
    """Latencies (ms), each with when it was measured (s since the start), in time order."""

    times: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)

    def add(self, t: float, value: float) -> None:
        self.times.append(t)
        self.values.append(value)

    def between(self, start: float, end: float) -> list[float]:
        return self.values[
            bisect.bisect_left(self.times, start) : bisect.bisect_left(self.times, end)
        ]


class Sample(NamedTuple):
    t: float
    value: float


@dataclass(frozen=True)
class Flatness:
    name: str
    first: float
    last: float
    low: float
    high: float
    drift: float
    """Least-squares slope times the span of the samples: how much the series grew after warm-up."""
    bound: float
    judged: bool = True
    """False for a series shown for what it explains, not judged (see :func:`judged`)."""

    @property
    def ok(self) -> bool:
        return self.drift <= self.bound or not self.judged


RSS = "RSS MiB"
DOCS = "notes docs MiB"
"""The notes documents a node holds, at the size calibrated per typed update (bench/soak.py)."""
RSS_LESS_DOCS = "RSS - docs MiB"


def bound(name: str, typical: float) -> float:
    """How much growth over the run still counts as flat. Memory: 5 % or 8 MiB (allocator and
    cache noise); fds and tasks: 2 % or 8, since members reconnect all the time and a sample can
    catch a few mid-reconnect."""
    if name.endswith("MiB"):
        return max(0.05 * typical, 8.0)
    return max(0.02 * typical, 8.0)


def judged(name: str, nodes: int) -> bool:
    """Which series must be flat. Memory: RSS less the notes documents it holds, since a document
    grows with its text, which is no leak (RSS and the documents are shown beside it). With
    several nodes, each node's fds and tasks follow the members it holds, and trainees change
    node on every reload: their sum over the nodes is judged (a leak on any node grows it)."""
    if name.endswith((f" {RSS}", f" {DOCS}")):
        return False
    if nodes > 1 and name.endswith((" fds", " tasks")):
        return name.startswith("all nodes")
    return True


def flatness(name: str, samples: list[Sample], warmup: float, *, judge: bool = True) -> Flatness:
    kept = [s for s in samples if s.t >= warmup] or samples
    values = [s.value for s in kept]
    span = kept[-1].t - kept[0].t
    slope = statistics.linear_regression([s.t for s in kept], values).slope if span > 0 else 0.0
    return Flatness(
        name,
        values[0],
        values[-1],
        min(values),
        max(values),
        slope * span,
        bound(name, statistics.median(values)),
        judge,
    )
