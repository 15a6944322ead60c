"""Notes benchmark: D documents x 2 writers typing through one Preceptor process (durable:
every update is in SQLite before it is relayed), beside the reference Node server
`@y/websocket-server` twice, serving the same load in the same run: in memory, and durable with
its own LevelDB persistence (`y-leveldb`, `YPERSISTENCE=<dir>`; checked first: a restart of it
keeps a document).

All are driven by the same Python y-websocket clients. Each writer appends a short token
every INTERVAL seconds; latency is from the writer sending an update to the other writer of
the document seeing it. Throughput is updates relayed per second of the server's own CPU time.
Preceptor's own /metrics add where its share of the latency goes: the group commit's batches
(updates in each, the commit's time, how long each batch's oldest update waited).

    .venv/bin/python bench/notes.py [--documents 50] [--updates 100] [--interval 0.05]
        [--start spread|aligned]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
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
    headers: Callable[[int, int], dict[str, str]]
    """The handshake's headers for writer ``w`` (0 or 1) of document ``d``."""
    metrics_url: str | None = None
    """Preceptor's /metrics (answered on loopback), for its group commit's figures."""


_COMMIT_METRICS = (
    "preceptor_notes_commit_batch_updates",
    "preceptor_notes_commit_seconds",
    "preceptor_notes_commit_wait_seconds",
)
_SLOW_WAIT_S = 0.005


async def commit_figures(url: str) -> dict[str, float]:
    """The group commit's histograms so far: each one's count and sum, and how many batches'
    oldest update waited at most ``_SLOW_WAIT_S``."""
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(url)
    response.raise_for_status()
    figures: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        if family.name not in _COMMIT_METRICS:
            continue
        for sample in family.samples:
            if sample.name.endswith(("_count", "_sum")):
                figures[sample.name] = sample.value
            elif sample.name.endswith("_bucket") and float(sample.labels["le"]) == _SLOW_WAIT_S:
                figures[f"{family.name}_fast"] = sample.value
    return figures


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


async def run(
    target: Target, docs: int, updates: int, interval: float, spread: bool
) -> dict[str, float]:
    sent_at: dict[tuple[int, int], float] = {}
    latencies: list[float] = []
    writers: list[Writer] = []
    readers = []
    for d in range(docs):
        for w in range(2):
            ws = await connect(
                target.url(d),
                additional_headers=target.headers(d, w),
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

    # Each writer's first update at its own phase of the interval (the same phases, from the
    # same seed, for every server), then one every interval on that schedule; "aligned" starts
    # them all at once, so every interval the whole load arrives in the same instant.
    phases = random.Random(7).sample(range(1_000_000), len(writers)) if spread else None
    started = time.perf_counter()

    async def type_into(writer: Writer, index: int) -> None:
        first = started + (phases[index] / 1_000_000 * interval if phases else 0.0)
        for seq in range(updates):
            if phases:
                await asyncio.sleep(max(0.0, first + seq * interval - time.perf_counter()))
            before = writer.doc.get_state()
            writer.text.insert(len(str(writer.text)), f"<{writer.number}:{seq}>")
            sent_at[(writer.number, seq)] = time.perf_counter()
            await writer.ws.send(update_frame(writer.doc.get_update(before)))
            if not phases:
                await asyncio.sleep(interval)

    commits_before = await commit_figures(target.metrics_url) if target.metrics_url else {}
    cpu_before = cpu_seconds(target.pid)
    await asyncio.gather(*(type_into(w, i) for i, w in enumerate(writers)))
    expected = docs * 2 * updates
    deadline = time.perf_counter() + 60
    while len(latencies) < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)  # polling a counter the readers fill
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds(target.pid) - cpu_before
    rss = rss_kib(target.pid)
    commits = await commit_figures(target.metrics_url) if target.metrics_url else {}
    for task in readers:
        task.cancel()
    for writer in writers:
        await writer.ws.close()
    ordered = sorted(latencies)
    commit = {name: value - commits_before.get(name, 0.0) for name, value in commits.items()}
    return {
        **commit,
        "p50": ordered[len(ordered) // 2],
        "p99": ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))],
        "updates": float(len(latencies)),
        "per_s": len(latencies) / elapsed,
        "per_cpu_s": len(latencies) / cpu if cpu > 0 else float("inf"),
        "cpu": cpu,
        "rss_mib": rss / 1024,
    }


async def preceptor(stack: contextlib.AsyncExitStack, docs: int, workdir: Path) -> Target:
    # Up to 50 mentors and trainees (session d is pair d mod N's), so the per-account socket
    # limits see what a busy program would; every socket comes from 127.0.0.1, as no real
    # program's would. (Each sign-in costs a full Argon2 hash: 1,000 took minutes.)
    people = min(docs, 50)
    os.environ["PRECEPTOR_SOCKET_OPENS_PER_MIN_PER_ADDRESS"] = str(10 * docs + 600)
    server = await start_preceptor(stack, workdir, sessions=docs, sign_ins=people)
    cookies = (server.mentor_cookies, server.trainee_cookies)
    return Target(
        "preceptor (durable)",
        server.pid,
        lambda d: f"ws://127.0.0.1:{server.port}/ws/notes/{server.session_ids[d]}",
        lambda d, w: {"Cookie": cookies[w][d % people], "Origin": server.origin},
        metrics_url=f"http://127.0.0.1:{server.port}/metrics",
    )


NODE = ROOT / "bench/node"
REFERENCE = NODE / "node_modules/@y/websocket-server/src/server.js"


def install_reference() -> None:
    """`npm ci` without install scripts: leveldown ships a prebuilt linux-x64 binary that loads
    as it is (node-gyp-build finds it at require time); its install script would only look for
    it, and npm here refuses to run it."""
    if not (NODE / "node_modules/leveldown").exists() or not REFERENCE.exists():
        subprocess.run(
            ["npm", "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
            cwd=NODE,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    subprocess.run(
        ["node", "-e", "require('leveldown'); require('y-leveldb')"], cwd=NODE, check=True
    )


async def start_reference(
    stack: contextlib.AsyncExitStack, persistence: Path | None
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port)}
    env.pop("YPERSISTENCE", None)
    if persistence is not None:
        env["YPERSISTENCE"] = str(persistence)
    process = subprocess.Popen(
        ["node", str(REFERENCE)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    stack.callback(stop, process)
    await wait_port(port)
    return process, port


async def reference(stack: contextlib.AsyncExitStack, persistence: Path | None = None) -> Target:
    process, port = await start_reference(stack, persistence)
    kind = "memory" if persistence is None else "LevelDB"
    name = f"@y/websocket-server ({kind})"
    return Target(name, process.pid, lambda d: f"ws://127.0.0.1:{port}/doc-{d}", lambda d, w: {})


async def synced_writer(url: str) -> Writer:
    writer = Writer(await connect(url, compression=None, open_timeout=30), 0)
    await writer.ws.send(sync_step1_frame(writer.doc.get_state()))
    async with asyncio.timeout(30):
        while not writer.synced.is_set():
            message = parse_frame(await writer.ws.recv(decode=False))
            if isinstance(message, SyncStep1):
                await writer.ws.send(sync_step2_frame(writer.doc.get_update(message.state_vector)))
            elif isinstance(message, SyncStep2):
                writer.doc.apply_update(message.update)
                writer.synced.set()
    return writer


def _logged(directory: Path, data: bytes) -> bool:
    return any(data in f.read_bytes() for f in directory.glob("*.log") if f.is_file())


async def check_reference_persists(directory: Path) -> None:
    """A document written to the durable reference is there after a restart, so the comparison
    is with a server that keeps what it relays (as ours does)."""
    token = f"persisted-{os.getpid()}"
    async with contextlib.AsyncExitStack() as stack:
        process, port = await start_reference(stack, directory)
        writer = await synced_writer(f"ws://127.0.0.1:{port}/doc-check")
        before = writer.doc.get_state()
        writer.text.insert(0, token)
        await writer.ws.send(update_frame(writer.doc.get_update(before)))
        # y-leveldb writes without waiting for the disk: wait until LevelDB's log holds it.
        async with asyncio.timeout(30):
            while not _logged(directory, token.encode()):
                await asyncio.sleep(0.05)
        await writer.ws.close()
        stop(process)
    async with contextlib.AsyncExitStack() as stack:
        _, port = await start_reference(stack, directory)
        reader = await synced_writer(f"ws://127.0.0.1:{port}/doc-check")
        # The reference loads the stored document after answering the sync (bindState is not
        # awaited), then sends it as an update: wait for it.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(10):
                while str(reader.text) != token:
                    message = parse_frame(await reader.ws.recv(decode=False))
                    if isinstance(message, SyncStep2 | SyncUpdate):
                        reader.doc.apply_update(message.update)
        text = str(reader.text)
        await reader.ws.close()
    if text != token:
        raise SystemExit(f"the LevelDB reference lost a document across a restart: {text!r}")


async def measure(
    make: Callable[[contextlib.AsyncExitStack], Awaitable[Target]],
    docs: int,
    updates: int,
    interval: float,
    spread: bool,
) -> tuple[str, dict[str, float]]:
    async with contextlib.AsyncExitStack() as stack:
        target = await make(stack)
        return target.name, await run(target, docs, updates, interval, spread)


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--documents", "--docs", dest="documents", type=int, default=50)
    parser.add_argument("--updates", type=int, default=100)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument(
        "--start",
        choices=("spread", "aligned"),
        default="spread",
        help="writers start at seeded phases of the interval (typists are not in step), or all "
        "at once (every interval's updates arrive in one burst)",
    )
    args = parser.parse_args()
    spread = args.start == "spread"
    docs: int = args.documents
    install_reference()
    load_before = load_average()
    with tempfile.TemporaryDirectory() as workdir:
        await check_reference_persists(Path(workdir) / "check")
        ours = await measure(
            lambda s: preceptor(s, docs, Path(workdir)), docs, args.updates, args.interval, spread
        )
        memory = await measure(reference, docs, args.updates, args.interval, spread)
        durable = await measure(
            lambda s: reference(s, Path(workdir) / "leveldb"),
            docs,
            args.updates,
            args.interval,
            spread,
        )
    print(
        f"\nNotes: {docs} documents x 2 writers, {args.updates} updates each, "
        f"every {args.interval * 1000:.0f} ms, starts {args.start}; "
        f"load average {load_before} before, {load_average()} after"
    )
    print("The LevelDB reference kept a document across a restart.")
    print(
        f"{'server':<32}{'p50 ms':>9}{'p99 ms':>9}{'updates/s':>11}{'per CPU-s':>11}"
        f"{'CPU µs/update':>15}{'RSS MiB':>9}"
    )
    for name, r in (ours, memory, durable):
        print(
            f"{name:<32}{r['p50']:>9.2f}{r['p99']:>9.2f}{r['per_s']:>11.0f}"
            f"{r['per_cpu_s']:>11.0f}{1e6 / r['per_cpu_s']:>15.0f}{r['rss_mib']:>9.1f}"
        )
    batches = ours[1].get("preceptor_notes_commit_batch_updates_count", 0.0)
    if batches:
        r = ours[1]
        wait = "preceptor_notes_commit_wait_seconds"
        print(
            f"{ours[0]}'s group commit (its /metrics): {batches:.0f} batches, "
            f"{r['preceptor_notes_commit_batch_updates_sum'] / batches:.1f} updates each; "
            f"commit mean {r['preceptor_notes_commit_seconds_sum'] / batches * 1000:.2f} ms; "
            f"a batch's oldest update waited {r[f'{wait}_sum'] / batches * 1000:.2f} ms on "
            f"average, over {_SLOW_WAIT_S * 1000:.0f} ms in "
            f"{100 * (1 - r[f'{wait}_fast'] / batches):.1f} % of batches"
        )
    for name, r in (durable, memory):
        # CPU per update, ours over theirs: below 1 is less CPU per relayed update than theirs.
        print(
            f"ours / {name}: p99 {ours[1]['p99'] / r['p99']:.2f}x, "
            f"CPU per update {r['per_cpu_s'] / ours[1]['per_cpu_s']:.2f}x"
        )


if __name__ == "__main__":
    asyncio.run(main())
