"""What bench/soak.py keeps and judges: latency samples by time, and whether a sampled resource
series (RSS, open fds, tasks) stays flat after the warm-up."""

from __future__ import annotations

import bisect
import statistics
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["Flatness", "Sample", "Series", "bound", "flatness"]


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

    @property
    def ok(self) -> bool:
        return self.drift <= self.bound


def bound(name: str, typical: float) -> float:
    """How much growth over the run still counts as flat. Memory: 5 % or 8 MiB (allocator and
    cache noise; the notes documents themselves grow a little as people type); fds and tasks: 2 %
    or 8, since members reconnect all the time and a sample can catch a few mid-reconnect."""
    if name.endswith("MiB"):
        return max(0.05 * typical, 8.0)
    return max(0.02 * typical, 8.0)


def flatness(name: str, samples: list[Sample], warmup: float) -> Flatness:
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
    )
