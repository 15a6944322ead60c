"""Notes benchmark: D documents x 2 writers typing through one Preceptor process (durable:
every update is in SQLite before it is relayed), beside the reference Node server
`@y/websocket-server` (in memory, no persistence) serving the same load in the same run.

Both are driven by the same Python y-websocket clients. Each writer appends a short token
every INTERVAL seconds; latency is from the writer sending an update to the other writer of
the document seeing it. Throughput is updates relayed per second of the server's own CPU time.

    .venv/bin/python bench/notes.py [--docs 50] [--updates 100] [--interval 0.05]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pycrdt import Doc, Text
from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.processes import ROOT, rss_kib, start_preceptor, stop, wait_port
from session_notes import (
    SyncStep1,
    SyncStep2,
    SyncUpdate,
    parse_frame,
    sync_step1_frame,
    sync_step2_frame,
    update_frame,
)
from tests.support import free_port

TOKEN = re.compile(r"<(\d+):(\d+)>")
PASSWORD = "bench-password-123"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


@dataclass
class Writer:
    ws: ClientConnection
    number: int
    doc: Doc[Any] = field(default_factory=Doc)
    seen: set[tuple[int, int]] = field(default_factory=set)
    synced: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def text(self) -> Text:
        return self.doc.get("notes", type=Text)


@dataclass
class Target:
    name: str
    pid: int
    url: Callable[[int], str]
    headers: dict[str, str]


async def read_loop(
    writer: Writer, sent_at: dict[tuple[int, int], float], latencies: list[float]
) -> None:
    async for frame in writer.ws:
        assert isinstance(frame, bytes)
        message = parse_frame(frame)
        if isinstance(message, SyncStep1):
            await writer.ws.send(sync_step2_frame(writer.doc.get_update(message.state_vector)))
            continue
        if not isinstance(message, SyncStep2 | SyncUpdate):
            continue
        writer.doc.apply_update(message.update)
        if isinstance(message, SyncStep2):
            writer.synced.set()
        now = time.perf_counter()
        for match in TOKEN.finditer(str(writer.text)):
            key = (int(match[1]), int(match[2]))
            if key[0] != writer.number and key not in writer.seen:
                writer.seen.add(key)
                if key in sent_at:
                    latencies.append((now - sent_at[key]) * 1000)


async def run(target: Target, docs: int, updates: int, interval: float) -> dict[str, float]:
    sent_at: dict[tuple[int, int], float] = {}
    latencies: list[float] = []
    writers: list[Writer] = []
    readers = []
    for d in range(docs):
        for w in range(2):
            ws = await connect(
                target.url(d),
                additional_headers=target.headers,
                compression=None,
                max_size=2**22,
                open_timeout=30,
            )
            writer = Writer(ws, d * 2 + w)
            writers.append(writer)
            readers.append(asyncio.create_task(read_loop(writer, sent_at, latencies)))
            await ws.send(sync_step1_frame(writer.doc.get_state()))
    for writer in writers:
        async with asyncio.timeout(30):
            await writer.synced.wait()

    async def type_into(writer: Writer) -> None:
        for seq in range(updates):
            before = writer.doc.get_state()
            writer.text.insert(len(str(writer.text)), f"<{writer.number}:{seq}>")
            sent_at[(writer.number, seq)] = time.perf_counter()
            await writer.ws.send(update_frame(writer.doc.get_update(before)))
            await asyncio.sleep(interval)

    cpu_before = cpu_seconds(target.pid)
    started = time.perf_counter()
    await asyncio.gather(*(type_into(w) for w in writers))
    expected = docs * 2 * updates
    deadline = time.perf_counter() + 60
    while len(latencies) < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)  # polling a counter the readers fill
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(target.pid) - cpu_before
    rss = rss_kib(target.pid)
    for task in readers:
        task.cancel()
    for writer in writers:
        await writer.ws.close()
    ordered = sorted(latencies)
    return {
        "p50": ordered[len(ordered) // 2],
        "p99": ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))],
        "updates": float(len(latencies)),
        "per_s": len(latencies) / elapsed,
        "per_cpu_s": len(latencies) / cpu if cpu > 0 else float("inf"),
        "cpu": cpu,
        "rss_mib": rss / 1024,
    }


async def preceptor(stack: contextlib.AsyncExitStack, docs: int, workdir: Path) -> Target:
    server = await start_preceptor(stack, workdir, sessions=docs)
    return Target(
        "preceptor (durable)",
        server.pid,
        lambda d: f"ws://127.0.0.1:{server.port}/ws/notes/{server.session_ids[d]}",
        {"Cookie": server.mentor_cookie, "Origin": server.origin},
    )


async def reference(stack: contextlib.AsyncExitStack) -> Target:
    server = ROOT / "bench/node/node_modules/@y/websocket-server/src/server.js"
    if not server.exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund"],
            cwd=ROOT / "bench/node",
            check=True,
            stdout=subprocess.DEVNULL,
        )
    port = free_port()
    process = subprocess.Popen(
        ["node", str(server)],
        env={**os.environ, "HOST": "127.0.0.1", "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stack.callback(stop, process)
    await wait_port(port)
    return Target(
        "@y/websocket-server (memory)", process.pid, lambda d: f"ws://127.0.0.1:{port}/doc-{d}", {}
    )


async def measure(
    make: Callable[[contextlib.AsyncExitStack], Awaitable[Target]],
    docs: int,
    updates: int,
    interval: float,
) -> tuple[str, dict[str, float]]:
    async with contextlib.AsyncExitStack() as stack:
        target = await make(stack)
        return target.name, await run(target, docs, updates, interval)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--docs", type=int, default=50)
    parser.add_argument("--updates", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.05)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        ours = await measure(
            lambda s: preceptor(s, args.docs, Path(workdir)), args.docs, args.updates, args.interval
        )
    ref = await measure(reference, args.docs, args.updates, args.interval)
    print(
        f"\nNotes: {args.docs} documents x 2 writers, {args.updates} updates each, "
        f"every {args.interval * 1000:.0f} ms"
    )
    print(
        f"{'server':<30}{'p50 ms':>9}{'p99 ms':>9}{'updates/s':>11}{'per CPU-s':>11}{'RSS MiB':>9}"
    )
    for name, r in (ours, ref):
        print(
            f"{name:<30}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['per_s']:>11.0f}"
            f"{r['per_cpu_s']:>11.0f}{r['rss_mib']:>9.1f}"
        )
    print(
        f"p99 ratio ours / reference = {ours[1]['p99'] / ref[1]['p99']:.2f}; "
        f"CPU efficiency ratio = {ours[1]['per_cpu_s'] / ref[1]['per_cpu_s']:.2f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
