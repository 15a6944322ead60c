"""Signaling benchmark: N rooms x 2 members exchanging `signal` messages through one Preceptor
process, beside a bare `websockets` relay of the same messages measured in the same run, and
the same relay as a Starlette app on uvicorn (bench/bare_starlette.py): the fixed stack's floor.

Prints join→welcome and relay latency (p50/p99) and server RSS per socket for both, for a busy
phase (ROOMS rooms relaying) and an idle phase (IDLE_ROOMS rooms connected, nothing sent).

Two join figures, as the two servers differ in when they check who connects: "join" runs from
the handshake's 101 to welcome (the bare relay has nothing left to do after its 101; Preceptor
accepts, then reads the sign-in and the session), "connect" from opening the TCP connection to
welcome (what a user waits for, the same span on both). "CPU/join" is the server process's own
CPU (all threads, user + system) over a join phase, record writes included, per join: far
steadier than the latencies on a shared machine.

    .venv/bin/python bench/signaling.py [--rooms 500] [--idle-rooms 2000] [--messages 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.processes import ROOT, cpu_seconds, rss_kib, start_preceptor, stop, wait_port
from tests.support import free_port

JOIN_CONCURRENCY = int(os.environ.get("JOIN_CONCURRENCY", "100"))


@dataclass
class Result:
    name: str
    join_ms: list[float]
    """The handshake's 101 → welcome."""
    connect_ms: list[float]
    """Opening the connection → welcome."""
    relay_ms: list[float]
    busy_cpu_ms_per_join: float
    """Over the busy phase's joins (2 x ROOMS), until their records are written (--settle)."""
    idle_cpu_ms_per_join: float
    """Over the idle phase's joins."""
    busy_rss_per_socket_kib: float
    idle_rss_per_socket_kib: float
    idle_sockets: int


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# --- the two servers --------------------------------------------------------------------------


@dataclass
class Target:
    """How a client joins a room on one of the two servers."""

    name: str
    pid: int
    url: Callable[[int], str]
    headers: Callable[[int, int], dict[str, str]]
    """(member, room) → the handshake's headers."""
    join_frame: Callable[[int, int], str]
    to_field: Callable[[str], str]


async def preceptor_target(
    stack: contextlib.AsyncExitStack, rooms: int, workdir: Path, sign_ins: int
) -> Target:
    # The load generator is one address standing in for thousands of phones: the per-address
    # limit on socket opens (600 a minute) would refuse it. Per-account limits stay as they are.
    os.environ.setdefault("PRECEPTOR_SOCKET_OPENS_PER_MIN_PER_ADDRESS", "1000000")
    server = await start_preceptor(stack, workdir, sessions=rooms, sign_ins=sign_ins)
    # Room r's members use sign-in r mod N: a burst of N simultaneous joins are N different
    # sign-ins (N people), so no join finds another's principal already looked up.
    cookies = [server.mentor_cookies, server.trainee_cookies]
    return Target(
        name="preceptor",
        pid=server.pid,
        url=lambda room: f"ws://127.0.0.1:{server.port}/ws/sessions/{server.session_ids[room]}",
        headers=lambda member, room: {
            "Cookie": cookies[member][room % sign_ins],
            "Origin": server.origin,
        },
        join_frame=lambda _room, _member: '{"type":"join"}',
        to_field=lambda peer: peer,
    )


async def bare_target(stack: contextlib.AsyncExitStack) -> Target:
    return await _relay_target(stack, "bare websockets", "bench/bare_relay.py")


async def starlette_target(stack: contextlib.AsyncExitStack) -> Target:
    return await _relay_target(stack, "bare Starlette", "bench/bare_starlette.py")


async def _relay_target(stack: contextlib.AsyncExitStack, name: str, script: str) -> Target:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / script), str(port)],
        stdout=subprocess.DEVNULL,
    )
    stack.callback(stop, process)
    await wait_port(port)
    return Target(
        name=name,
        pid=process.pid,
        url=lambda _room: f"ws://127.0.0.1:{port}/",
        headers=lambda _member, _room: {},
        join_frame=lambda room, _member: f'{{"room":"{room}"}}',
        to_field=lambda peer: peer,
    )


# --- the load ---------------------------------------------------------------------------------


@dataclass
class Member:
    ws: ClientConnection
    peer: str


@dataclass
class Joins:
    """Each join's latencies, in ms."""

    after_101: list[float]
    after_connect: list[float]


async def join(target: Target, room: int, member: int, joins: Joins) -> Member:
    connecting = time.perf_counter()
    ws = await connect(
        target.url(room),
        additional_headers=target.headers(member, room),
        compression=None,
        open_timeout=30,
        max_size=2**20,
    )
    started = time.perf_counter()
    await ws.send(target.join_frame(room, member))
    while True:
        frame = await ws.recv()
        if '"type":"welcome"' in str(frame):
            break
    welcomed = time.perf_counter()
    joins.after_101.append((welcomed - started) * 1000)
    joins.after_connect.append((welcomed - connecting) * 1000)
    peer = ""
    marker = '"peer":"'
    if marker in str(frame):
        peer = str(frame).split(marker, 1)[1].split('"', 1)[0]
    return Member(ws, peer)


async def join_rooms(target: Target, rooms: int, joins: Joins) -> list[list[Member]]:
    pairs: list[list[Member]] = []
    semaphore = asyncio.Semaphore(JOIN_CONCURRENCY)

    async def one(room: int) -> list[Member]:
        async with semaphore:
            first = await join(target, room, 0, joins)
            second = await join(target, room, 1, joins)
            return [first, second]

    pairs = list(await asyncio.gather(*(one(r) for r in range(rooms))))
    return pairs


async def relay(pairs: list[list[Member]], messages: int, interval_s: float) -> list[float]:
    latencies: list[float] = []

    async def sender(me: Member, other: Member) -> None:
        for _ in range(messages):
            stamp = time.perf_counter()
            candidate = f"candidate:{stamp!r} 1 udp 2122260223 127.0.0.1 50000 typ host"
            await me.ws.send(
                f'{{"type":"signal","to":"{other.peer}","candidate":{{"candidate":"{candidate}",'
                '"sdpMid":"0","sdpMLineIndex":0}}'
            )
            await asyncio.sleep(interval_s)

    async def receiver(me: Member) -> None:
        got = 0
        while got < messages:
            frame = str(await me.ws.recv())
            if '"signal"' not in frame:
                continue
            stamp = float(frame.split("candidate:", 1)[1].split(" ", 1)[0])
            latencies.append((time.perf_counter() - stamp) * 1000)
            got += 1

    # The peers learn each other's ids from welcome; for the bare relay any id will do.
    tasks: list[Awaitable[None]] = []
    for a, b in pairs:
        tasks += [sender(a, b), sender(b, a), receiver(a), receiver(b)]
    await asyncio.gather(*tasks)
    return latencies


async def run_target(
    make: Callable[[contextlib.AsyncExitStack], Awaitable[Target]],
    rooms: int,
    idle_rooms: int,
    messages: int,
    interval_s: float,
    settle_s: float,
) -> Result:
    async with contextlib.AsyncExitStack() as stack:
        target = await make(stack)
        await asyncio.sleep(0.5)
        base_rss = rss_kib(target.pid)
        joins = Joins([], [])
        cpu = cpu_seconds(target.pid)
        pairs = await join_rooms(target, rooms, joins)
        # Let the join phase's record writes finish, so the relay phase measures relaying.
        await asyncio.sleep(settle_s)
        busy_cpu = (cpu_seconds(target.pid) - cpu) * 1000 / (2 * rooms)
        relay_ms = await relay(pairs, messages, interval_s)
        busy_rss = (rss_kib(target.pid) - base_rss) / (2 * rooms)
        cpu = cpu_seconds(target.pid)
        more = await join_rooms_offset(target, rooms, idle_rooms - rooms, joins)
        await asyncio.sleep(1.0)
        idle_cpu = (cpu_seconds(target.pid) - cpu) * 1000 / max(1, 2 * (idle_rooms - rooms))
        idle_rss = (rss_kib(target.pid) - base_rss) / (2 * idle_rooms)
        for members in [*pairs, *more]:
            for m in members:
                await m.ws.close()
        return Result(
            target.name,
            joins.after_101,
            joins.after_connect,
            relay_ms,
            busy_cpu,
            idle_cpu,
            busy_rss,
            idle_rss,
            2 * idle_rooms,
        )


async def join_rooms_offset(
    target: Target, offset: int, count: int, joins: Joins
) -> list[list[Member]]:
    shifted = Target(
        target.name,
        target.pid,
        lambda room: target.url(room + offset),
        lambda member, room: target.headers(member, room + offset),
        lambda room, member: target.join_frame(room + offset, member),
        target.to_field,
    )
    return await join_rooms(shifted, count, joins)


def report(results: list[Result], rooms: int) -> None:
    print(f"\nSignaling: {rooms} busy rooms x 2 members; then idle rooms up to the total below.")
    header = f"{'server':<18}{'join p50':>10}{'join p99':>10}{'relay p50':>11}{'relay p99':>11}"
    header += f"{'KiB/socket busy':>17}{'KiB/socket idle':>17}{'idle sockets':>14}"
    print(header)
    for r in results:
        print(
            f"{r.name:<18}{pct(r.join_ms, 0.5):>9.2f}m{pct(r.join_ms, 0.99):>9.2f}m"
            f"{pct(r.relay_ms, 0.5):>10.2f}m{pct(r.relay_ms, 0.99):>10.2f}m"
            f"{r.busy_rss_per_socket_kib:>17.1f}{r.idle_rss_per_socket_kib:>17.1f}"
            f"{r.idle_sockets:>14}"
        )
    ours, bare = results[0], results[-1]
    ratio = pct(ours.relay_ms, 0.99) / pct(bare.relay_ms, 0.99)
    print(f"relay p99 ratio preceptor / bare = {ratio:.2f} (goal ≤ 1.5)")
    mean_relay = statistics.fmean(ours.relay_ms) if ours.relay_ms else float("nan")
    print(
        f"idle RSS per socket = {ours.idle_rss_per_socket_kib:.1f} KiB (goal ≤ 100) "
        f"over {ours.idle_sockets} sockets; mean relay {mean_relay:.2f} ms"
    )
    print(
        f"\nJoins ({len(ours.join_ms)} each): 'join' = the handshake's 101 → welcome, "
        "'connect' = opening the connection → welcome; server CPU per join (all threads)."
    )
    header = f"{'server':<18}{'join p50':>10}{'join p99':>10}{'connect p50':>13}"
    header += f"{'connect p99':>13}{'CPU/join busy':>15}{'CPU/join idle':>15}"
    print(header)
    for r in results:
        print(
            f"{r.name:<18}{pct(r.join_ms, 0.5):>9.2f}m{pct(r.join_ms, 0.99):>9.2f}m"
            f"{pct(r.connect_ms, 0.5):>12.2f}m{pct(r.connect_ms, 0.99):>12.2f}m"
            f"{r.busy_cpu_ms_per_join:>13.2f}ms{r.idle_cpu_ms_per_join:>13.2f}ms"
        )
    for label, figure in (("join", "join_ms"), ("connect", "connect_ms")):
        ratio = pct(getattr(ours, figure), 0.99) / pct(getattr(bare, figure), 0.99)
        print(f"{label} p99 ratio preceptor / bare = {ratio:.2f} (issue 8's goal ≤ 2)")
    cpu_ratio = ours.busy_cpu_ms_per_join / max(bare.busy_cpu_ms_per_join, 1e-9)
    print(f"CPU per join (busy phase) ratio preceptor / bare = {cpu_ratio:.2f}")
    for floor in results[1:-1]:
        # The fixed stack (Starlette on uvicorn) with nothing of ours on it: what the stack
        # costs against the bare relay, and what our work costs on top of it.
        print(
            f"{floor.name}: join p99 {_ratio(floor.join_ms, bare.join_ms):.2f}x bare, CPU per "
            f"join {floor.busy_cpu_ms_per_join / max(bare.busy_cpu_ms_per_join, 1e-9):.2f}x "
            f"bare; preceptor join p99 {_ratio(ours.join_ms, floor.join_ms):.2f}x it, CPU per "
            f"join {ours.busy_cpu_ms_per_join / max(floor.busy_cpu_ms_per_join, 1e-9):.2f}x it"
        )


def _ratio(ours: list[float], theirs: list[float]) -> float:
    return pct(ours, 0.99) / pct(theirs, 0.99)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rooms", type=int, default=500)
    parser.add_argument("--idle-rooms", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.2)
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument(
        "--sign-ins",
        type=int,
        default=JOIN_CONCURRENCY,
        help="distinct sign-ins per role (the people joining); room r uses sign-in r mod N",
    )
    args = parser.parse_args()
    # The load generator's own full collections (it holds thousands of client sockets) stalled
    # it for tens of ms, mid-burst, counted against whichever server it was measuring. It
    # runs for a minute or two: it does without.
    gc.disable()
    with tempfile.TemporaryDirectory() as workdir:
        ours = await run_target(
            lambda stack: preceptor_target(stack, args.idle_rooms, Path(workdir), args.sign_ins),
            args.rooms,
            args.idle_rooms,
            args.messages,
            args.interval,
            args.settle,
        )
    relays = [
        await run_target(
            target, args.rooms, args.idle_rooms, args.messages, args.interval, args.settle
        )
        for target in (starlette_target, bare_target)
    ]
    report([ours, *relays], args.rooms)


if __name__ == "__main__":
    asyncio.run(main())
