"""Joins only: ROOMS rooms x 2 members joining, JOIN_CONCURRENCY at a time, through Preceptor,
the bare Starlette relay and the bare `websockets` relay, in the same run (bench/signaling.py's
servers and load generator, without its relay phase). Prints join→welcome and connect→welcome
p50 / p99 and each server's CPU per join (all threads), and Preceptor's per thread: where a
join's CPU goes when the figure to move is the join (issue 8).

    .venv/bin/python bench/joins.py [--rooms 500] [--runs 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import statistics
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.processes import cpu_seconds
from bench.signaling import (
    JOIN_CONCURRENCY,
    Joins,
    Target,
    bare_target,
    join_rooms,
    pct,
    preceptor_target,
    starlette_target,
)

_SETTLE_S = 1.0  # after the last welcome: the joins' record writes are counted too


@dataclass
class Figures:
    name: str
    joins: Joins
    cpu_ms_per_join: float
    threads_ms_per_join: dict[str, float]


def _threads(pid: int) -> dict[str, float]:
    """CPU seconds so far of each of the process's threads, by thread id."""
    found: dict[str, float] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(FileNotFoundError):
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
            found[tid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return found


async def measure(
    make: Callable[[contextlib.AsyncExitStack], Awaitable[Target]], rooms: int
) -> Figures:
    async with contextlib.AsyncExitStack() as stack:
        target = await make(stack)
        await asyncio.sleep(0.5)
        joins = Joins([], [])
        before, threads_before = cpu_seconds(target.pid), _threads(target.pid)
        pairs = await join_rooms(target, rooms, joins)
        await asyncio.sleep(_SETTLE_S)
        used = cpu_seconds(target.pid) - before
        threads_after = _threads(target.pid)
        count = len(joins.after_101)
        per_thread = {
            tid: (seconds - threads_before.get(tid, 0.0)) * 1000 / count
            for tid, seconds in threads_after.items()
            if seconds > threads_before.get(tid, 0.0)
        }
        for members in pairs:
            for member in members:
                await member.ws.close()
        return Figures(target.name, joins, used * 1000 / count, per_thread)


def ratios(results: list[Figures]) -> tuple[float, float, float]:
    """Ours over the bare relay's: join p99, connect p99, CPU per join."""
    ours, bare = results[0], results[-1]
    return (
        pct(ours.joins.after_101, 0.99) / pct(bare.joins.after_101, 0.99),
        pct(ours.joins.after_connect, 0.99) / pct(bare.joins.after_connect, 0.99),
        ours.cpu_ms_per_join / bare.cpu_ms_per_join,
    )


def report(results: list[Figures]) -> None:
    print(f"{'server':<18}{'join p50':>10}{'join p99':>10}{'connect p50':>13}{'connect p99':>13}")
    for r in results:
        j, c = r.joins.after_101, r.joins.after_connect
        print(
            f"{r.name:<18}{pct(j, 0.5):>8.1f}ms{pct(j, 0.99):>8.1f}ms"
            f"{pct(c, 0.5):>11.1f}ms{pct(c, 0.99):>11.1f}ms"
            f"   CPU/join {r.cpu_ms_per_join:.3f} ms"
        )
    ours, bare = results[0], results[-1]
    for label, ratio in zip(("join", "connect"), ratios(results)[:2], strict=True):
        print(f"{label} p99 ratio {ours.name} / {bare.name} = {ratio:.2f} (issue 8's goal ≤ 2)")
    threads = sorted(ours.threads_ms_per_join.values(), reverse=True)
    print(
        f"{ours.name} CPU per join by thread (ms, largest first):", [round(t, 3) for t in threads]
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rooms", type=int, default=500)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    gc.disable()  # the load generator's own collections stall it (bench/signaling.py)
    runs: list[tuple[float, float, float]] = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as workdir:
            ours = await measure(
                lambda stack: preceptor_target(stack, args.rooms, Path(workdir), JOIN_CONCURRENCY),
                args.rooms,
            )
        relays = [await measure(make, args.rooms) for make in (starlette_target, bare_target)]
        print(f"\nrun {run + 1}: {args.rooms} rooms x 2 joins, {JOIN_CONCURRENCY} at a time")
        report([ours, *relays])
        runs.append(ratios([ours, *relays]))
    if len(runs) > 1:
        # On a shared machine one run says little: the median over the runs, and their range.
        columns = zip(*runs, strict=True)
        for label, values in zip(("join p99", "connect p99", "CPU per join"), columns, strict=True):
            print(
                f"{label} ours / bare websockets over {len(runs)} runs: median "
                f"{statistics.median(values):.2f}x ({min(values):.2f}-{max(values):.2f}x)"
            )


if __name__ == "__main__":
    asyncio.run(main())
