"""Load and soak: S live sessions for M minutes through one Preceptor process (SQLite, or
PostgreSQL with --postgres) or two (PostgreSQL + Redis; half the sessions have their mentor and
trainee on different nodes, and trainees change node on every reconnect), then the same load on
the baselines in the same run: the bare `websockets` relay (bench/bare_relay.py) for signaling and
the reference y-websocket server (`@y/websocket-server`, in memory, bench/node) for the notes.

In every session both members keep, as a browser in a call does: a `ping` every 5 s, an ICE
candidate `signal` to the other every 2 s, a `state` change every 30 s, a chat line every 60 s,
a notes edit (a word, with the cursor's awareness update) every 2 s, and a page reload (leave,
close both sockets, reconnect with the notes it already holds, rejoin) about every 3 minutes.

It measures join→welcome, signal relay, chat relay (stored, then relayed) and notes update
latency (writer → other member), p50/p99 per time window; samples each server's RSS, open fds
(/proc/<pid>/fd) and asyncio task count (/metrics) every 10 s; and after the warm-up (by default
until every room's notes were compacted once, 9 minutes at this load; then 10 minutes) checks that
each of those is flat: the least-squares drift over the rest of the run must stay within a bound
(printed beside it). Exit status 1 when a series is not flat. Memory is judged less the notes
documents each node holds (a document grows with its text: ~240 B per typed word, calibrated in
this process at start-up); with two nodes, fds and tasks are judged summed over the nodes, since
each node's follow the members moving to and fro (bench/soak_stats.py ``judged``).

    .venv/bin/python bench/soak.py [--nodes 1|2] [--sessions 200] [--minutes M] [--warmup W]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import json
import math
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake, WebSocketException

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pycrdt import Doc, Text, TextEvent

from bench.notes import REFERENCE, reference
from bench.processes import (
    ROOT,
    PreceptorProcess,
    open_fds,
    rss_kib,
    start_preceptor,
    stop,
    wait_port,
)
from bench.signaling import pct
from bench.soak_stats import (
    DOCS,
    RSS,
    RSS_LESS_DOCS,
    Flatness,
    Sample,
    Series,
    flatness,
    judged,
)
from server.live.notes.hub import COMPACT_AFTER
from session_notes import (
    AwarenessEntry,
    SyncStep1,
    SyncStep2,
    SyncUpdate,
    awareness_frame,
    encode_awareness,
    parse_frame,
    sync_step1_frame,
    sync_step2_frame,
    update_frame,
)
from tests.support import free_port, postgres_database, private_redis

clock = time.perf_counter
BACKOFF_S = (0.25, 1.0, 2.0, 4.0, 8.0)
FATAL = {f"closed {code}" for code in (4401, 4403, 4404, 4409, 4410, 1008, 1009)}


@dataclass(frozen=True)
class Load:
    """Seconds between each member's actions (each jittered ±20 %)."""

    ping: float = 5.0
    signal: float = 2.0
    state: float = 30.0
    chat: float = 60.0
    type: float = 2.0
    reload: float = 180.0
    ramp: float = 30.0
    """All members arrive within this many seconds of the start."""


@dataclass
class Target:
    """Where member ``m`` (0 mentor, 1 trainee) of session ``s`` connects, on its ``visit``-th
    connection."""

    name: str
    pids: list[int]
    signaling: Callable[[int, int, int], tuple[str, dict[str, str]]]
    join_frame: Callable[[int], str]
    notes: Callable[[int, int, int], tuple[str, dict[str, str]]] | None
    labels: list[str]
    """What each process is, in the samples' names."""
    metrics: list[str] = field(default_factory=list)
    """Each node's /metrics URL (empty: the baselines have none)."""
    node_of: Callable[[int, int, int], int] | None = None
    """Which node member ``m`` of session ``s`` uses on its ``visit``-th connection (None: the
    baselines, whose memory is not judged)."""


@dataclass
class Measures:
    join: Series = field(default_factory=Series)
    relay: Series = field(default_factory=Series)
    chat: Series = field(default_factory=Series)
    notes: Series = field(default_factory=Series)
    lag: Series = field(default_factory=Series)
    """The load generator's own event-loop lateness: every other figure includes it."""
    samples: dict[str, list[Sample]] = field(default_factory=dict)
    problems: Counter[str] = field(default_factory=Counter)
    sent_notes: dict[str, float] = field(default_factory=dict)
    """Token typed → when; taken out by the member who sees it arrive."""
    unseen_notes: int = 0
    typed: Counter[int] = field(default_factory=Counter)
    """Notes updates written so far, by session: what its document holds."""


class Member:
    def __init__(self, session: int, index: int, target: Target, m: Measures, t0: float) -> None:
        self.session, self.index, self.target, self.m, self.t0 = session, index, target, m, t0
        self.doc: Doc[Any] = Doc()  # kept across reloads, as y-indexeddb keeps it in a browser
        self.text = self.doc.get("notes", type=Text)
        self.text.observe(self._arrived)
        self.live = False  # counting only updates relayed live, not a reconnect's catch-up
        self.other: str | None = None
        self.typed = 0
        self.failures = 0  # in a row: the back-off step
        self.sent = 0
        self.node: int | None = None
        """The node this member's notes socket is open on: that node holds the document."""

    def _arrived(self, event: TextEvent) -> None:
        if not self.live:
            return
        now = clock()
        for op in event.delta:  # type: ignore[attr-defined]
            inserted = op.get("insert")
            if isinstance(inserted, str):
                for token in inserted.split():
                    sent = self.m.sent_notes.pop(token, None)
                    if sent is not None:
                        self.m.notes.add(now - self.t0, (now - sent) * 1000)

    async def life(self, stop_at: float, load: Load) -> None:
        await asyncio.sleep(random.uniform(0, load.ramp))
        visit = 0
        first = random.uniform(0.2, 1.0)  # reloads spread over the run, not in step
        while clock() < stop_at:
            until = min(stop_at, clock() + load.reload * (first or random.uniform(0.8, 1.2)))
            first = 0
            try:
                await self.visit(visit, until, load)
            except* (OSError, TimeoutError, WebSocketException) as group:
                problem = _problem(group.exceptions[0])
                self.m.problems[problem] += 1
                # As web/static/call/socket.js does: capped, jittered back-off; after a close
                # that reconnecting cannot help, the person reloads the page a little later.
                step = min(self.failures, len(BACKOFF_S) - 1)
                pause = 30.0 if problem in FATAL else BACKOFF_S[step]
                self.failures += 1
                await asyncio.sleep(pause * random.uniform(0.5, 1.0))
            visit += 1

    async def visit(self, visit: int, until: float, load: Load) -> None:
        url, headers = self.target.signaling(self.session, self.index, visit)
        async with contextlib.AsyncExitStack() as stack:
            ws = await stack.enter_async_context(_connect(url, headers))
            started = clock()
            await ws.send(self.target.join_frame(self.session))
            async with asyncio.timeout(30):
                while True:
                    message = json.loads(await ws.recv())
                    if message.get("type") == "welcome":
                        break
            self.m.join.add(clock() - self.t0, (clock() - started) * 1000)
            self.failures = 0
            # The bare relay names nobody: anything will do as `to`.
            peers = message.get("peers", [{"id": "other"}])
            self.other = peers[0]["id"] if peers else None
            notes = None
            if self.target.notes is not None:
                url, headers = self.target.notes(self.session, self.index, visit)
                notes = await stack.enter_async_context(_connect(url, headers))
                if self.target.node_of is not None:
                    self.node = self.target.node_of(self.session, self.index, visit)
                    stack.callback(setattr, self, "node", None)
            async with asyncio.TaskGroup() as group:
                readers = [group.create_task(self.read_signaling(ws))]
                if notes is not None:
                    readers.append(group.create_task(self.read_notes(notes)))
                await self.act(ws, notes, until, load)
                with contextlib.suppress(WebSocketException):
                    await ws.send('{"type":"leave"}')
                self.live = False
                for reader in readers:
                    reader.cancel()

    async def act(
        self, ws: ClientConnection, notes: ClientConnection | None, until: float, load: Load
    ) -> None:
        every = {"ping": load.ping, "signal": load.signal, "state": load.state}
        every |= {"chat": load.chat} | ({"type": load.type} if notes is not None else {})
        due = {kind: clock() + random.uniform(0, period) for kind, period in every.items()}
        while True:
            kind = min(due, key=due.__getitem__)
            if due[kind] >= until:
                # In the call until the visit's end, as a person is: returning at once (up to a
                # period early) made the run's last seconds a storm of rejoins, each visit
                # ending before the run did (the last window's join p99, 0.6-1.8 s on two nodes).
                await asyncio.sleep(max(0.0, until - clock()))
                return
            await asyncio.sleep(max(0.0, due[kind] - clock()))
            due[kind] += every[kind] * random.uniform(0.8, 1.2)
            self.sent += 1
            if kind == "type" and notes is not None:
                await self.type_word(notes)
            else:
                await ws.send(self.frame(kind))

    def frame(self, kind: str) -> str:
        stamp = repr(clock())
        if kind == "signal" and self.other is not None:
            candidate = f"candidate:{stamp} 1 udp 2122260223 127.0.0.1 50000 typ host"
            return json.dumps(
                {
                    "type": "signal",
                    "to": self.other,
                    "candidate": {"candidate": candidate, "sdpMid": "0", "sdpMLineIndex": 0},
                }
            )
        if kind == "state":
            return json.dumps(
                {"type": "state", "audio": True, "video": random.random() < 0.8, "screen": False}
            )
        if kind == "chat":
            return json.dumps({"type": "chat", "text": f"m{self.index}@{stamp}"})
        return json.dumps({"type": "ping", "id": stamp})

    async def type_word(self, notes: ClientConnection) -> None:
        before = self.doc.get_state()
        self.typed += 1
        token = f"{self.session}.{self.index}.{self.typed}"
        self.text += f" {token}"
        self.m.sent_notes[token] = clock()
        self.m.typed[self.session] += 1
        await notes.send(update_frame(self.doc.get_update(before)))
        cursor = json.dumps({"user": {"name": f"m{self.index}"}, "cursor": self.typed})
        entry = AwarenessEntry(self.doc.client_id, self.typed, cursor)
        await notes.send(awareness_frame(encode_awareness([entry])))

    async def read_signaling(self, ws: ClientConnection) -> None:
        async for frame in ws:
            now = clock()
            message = json.loads(frame)
            kind = message.get("type")
            if kind == "signal":
                stamp = message["candidate"]["candidate"].split(":", 1)[1].split(" ", 1)[0]
                self.m.relay.add(now - self.t0, (now - float(stamp)) * 1000)
            elif kind == "chat":
                author, _, stamp = str(message.get("text", "")).partition("@")
                if author != f"m{self.index}" and stamp:
                    self.m.chat.add(now - self.t0, (now - float(stamp)) * 1000)
            elif kind == "peer-joined":
                self.other = message["peer"]["id"]
            elif kind == "peer-left" and message.get("peer") == self.other:
                self.other = None
            elif kind == "error":
                self.m.problems[f"error {message.get('code')}"] += 1

    async def read_notes(self, ws: ClientConnection) -> None:
        await ws.send(sync_step1_frame(self.doc.get_state()))
        async for frame in ws:
            assert isinstance(frame, bytes)
            message = parse_frame(frame)
            if isinstance(message, SyncStep1):
                await ws.send(sync_step2_frame(self.doc.get_update(message.state_vector)))
            elif isinstance(message, SyncStep2):
                self.doc.apply_update(message.update)  # what was missed: not a live update
                self.live = True
            elif isinstance(message, SyncUpdate):
                self.doc.apply_update(message.update)


def _connect(url: str, headers: dict[str, str]) -> connect:
    return connect(
        url, additional_headers=headers, compression=None, open_timeout=30, max_size=2**22
    )


def _problem(exc: BaseException) -> str:
    code = getattr(getattr(exc, "rcvd", None), "code", None)
    if code is not None:
        return f"closed {code}"
    if isinstance(exc, InvalidHandshake):
        return f"handshake refused ({type(exc).__name__})"
    return type(exc).__name__


# --- the servers ------------------------------------------------------------------------------


def preceptor_target(server: PreceptorProcess) -> Target:
    nodes = server.nodes
    cookies = (server.mentor_cookies, server.trainee_cookies)

    def node(s: int, m: int, visit: int) -> int:
        # Mentors stay on one node; trainees start on either and move on every reconnect.
        return (s if m == 0 else s // 2 + visit) % len(nodes)

    def sockets(path: str) -> Callable[[int, int, int], tuple[str, dict[str, str]]]:
        def where(s: int, m: int, visit: int) -> tuple[str, dict[str, str]]:
            n = nodes[node(s, m, visit)]
            url = f"ws://127.0.0.1:{n.port}/ws/{path}/{server.session_ids[s]}"
            return url, {"Cookie": cookies[m][s % len(cookies[m])], "Origin": n.origin}

        return where

    return Target(
        f"preceptor ({len(nodes)} node{'s' if len(nodes) > 1 else ''})",
        [n.pid for n in nodes],
        sockets("sessions"),
        lambda _s: '{"type":"join"}',
        sockets("notes"),
        [f"node {i}" for i in range(len(nodes))],
        [f"{n.origin}/metrics" for n in nodes],
        node,
    )


async def baseline_target(stack: contextlib.AsyncExitStack) -> Target:
    port = free_port()
    # Quiet: the bare relay logs a traceback each time it relays to a member that just left
    # (and closes the sender with 1011; counted under "problems").
    bare = subprocess.Popen(
        [sys.executable, str(ROOT / "bench/bare_relay.py"), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    stack.callback(stop, bare)
    await wait_port(port)
    pids, labels = [bare.pid], ["bare relay"]
    notes: Callable[[int, int, int], tuple[str, dict[str, str]]] | None = None
    if REFERENCE.exists():
        ref = await reference(stack)
        pids.append(ref.pid)
        labels.append("y-ws ref")
        notes = lambda s, _m, _v: (ref.url(s), {})  # noqa: E731
    else:
        print("no reference notes server (cd bench/node && npm ci --ignore-scripts): skipped")
    return Target(
        "baseline: bare relay + @y/websocket-server (memory)",
        pids,
        lambda _s, _m, _v: (f"ws://127.0.0.1:{port}/", {}),
        lambda s: json.dumps({"room": str(s)}),
        notes,
        labels,
    )


# --- running and reporting --------------------------------------------------------------------


def document_bytes_per_update(sessions: int = 200, words: int = 200) -> float:
    """The memory a server's notes document keeps per update, as this soak types them (two
    members, a word each in turn): RSS taken by documents that receive such updates, per update
    (~240 B with pycrdt 0.14; a document loaded from its snapshot keeps ~10 % less)."""
    trim = ctypes.CDLL("libc.so.6").malloc_trim

    def rss() -> int:
        gc.collect()
        trim(0)
        return rss_kib(os.getpid()) * 1024

    written: list[list[bytes]] = []
    for s in range(sessions):
        members: list[Doc[Any]] = [Doc(), Doc()]
        texts = [member.get("notes", type=Text) for member in members]
        updates = []
        for n in range(words):
            writer, reader = members[n % 2], members[1 - n % 2]
            before = writer.get_state()
            texts[n % 2] += f" {s}.{n % 2}.{n // 2 + 1}"  # appended, as Member.type_word does
            update = writer.get_update(before)
            reader.apply_update(update)
            updates.append(update)
        written.append(updates)
    documents: list[Doc[Any]] = [Doc() for _ in range(sessions)]
    for document in documents:
        document.get("notes", type=Text)
    empty = rss()
    for n in range(words):  # in turn across the documents, as the server receives them
        for document, updates in zip(documents, written, strict=True):
            document.apply_update(updates[n])
    return max(0, rss() - empty) / (sessions * words)


async def sample_servers(
    target: Target,
    m: Measures,
    members: list[Member],
    document_bytes: float,
    t0: float,
    every: float,
) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        while True:
            now = clock() - t0
            held: list[set[int]] = [set() for _ in target.pids]
            for member in members:
                if member.node is not None:
                    held[member.node].add(member.session)
            all_fds, all_tasks, scraped = 0, 0.0, 0
            for i, (pid, label) in enumerate(zip(target.pids, target.labels, strict=True)):
                rss = rss_kib(pid) / 1024
                m.samples.setdefault(f"{label} {RSS}", []).append(Sample(now, rss))
                if target.node_of is not None:
                    docs = sum(m.typed[s] for s in held[i]) * document_bytes / 2**20
                    m.samples.setdefault(f"{label} {DOCS}", []).append(Sample(now, docs))
                    less = Sample(now, rss - docs)
                    m.samples.setdefault(f"{label} {RSS_LESS_DOCS}", []).append(less)
                fds = open_fds(pid)
                all_fds += fds
                m.samples.setdefault(f"{label} fds", []).append(Sample(now, fds))
            for url, label in zip(target.metrics, target.labels, strict=False):
                with contextlib.suppress(httpx.HTTPError, ValueError):
                    tasks = _gauge((await http.get(url)).text, "preceptor_asyncio_tasks")
                    all_tasks += tasks
                    scraped += 1
                    m.samples.setdefault(f"{label} tasks", []).append(Sample(now, tasks))
            if len(target.metrics) > 1:
                m.samples.setdefault("all nodes fds", []).append(Sample(now, all_fds))
                if scraped == len(target.metrics):
                    m.samples.setdefault("all nodes tasks", []).append(Sample(now, all_tasks))
            for token, sent in list(m.sent_notes.items()):
                if clock() - sent > 60:  # its reader was away: it arrived in a catch-up
                    del m.sent_notes[token]
                    m.unseen_notes += 1
            await asyncio.sleep(every)


async def report_moves(target: Target) -> None:
    """Rooms that changed node during the run: with every node up, each one is a false death."""
    async with httpx.AsyncClient(timeout=10) as http:
        for url, label in zip(target.metrics, target.labels, strict=False):
            text = (await http.get(url)).text
            moves = {
                why: _gauge(text, f'preceptor_rooms_moved_total{{why="{why}"}}')
                for why in ("owner-silent", "claimed-elsewhere")
            }
            print(f"{label} rooms moved: " + ", ".join(f"{k} {v:.0f}" for k, v in moves.items()))


def _gauge(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise ValueError(name)


async def soak(
    target: Target,
    sessions: int,
    seconds: float,
    load: Load,
    window: float,
    document_bytes: float = 0.0,
) -> Measures:
    m = Measures()
    t0 = clock()
    members = [Member(s, i, target, m, t0) for s in range(sessions) for i in (0, 1)]
    sampler = asyncio.create_task(sample_servers(target, m, members, document_bytes, t0, 10.0))
    ticker = asyncio.create_task(tick(m, t0))
    reporter = asyncio.create_task(report_windows(m, t0, window))
    try:
        await asyncio.gather(*(member.life(t0 + seconds, load) for member in members))
    finally:
        sampler.cancel()
        ticker.cancel()
        reporter.cancel()
    return m


SERIES = ("join", "relay", "chat", "notes", "lag")


async def tick(m: Measures, t0: float, every: float = 0.1) -> None:
    while True:
        due = clock() + every
        await asyncio.sleep(every)
        m.lag.add(due - t0, (clock() - due) * 1000)


async def report_windows(m: Measures, t0: float, window: float) -> None:
    print(f"{'window':>9}" + "".join(f"{name + ' n/p50/p99 ms':>25}" for name in SERIES))
    start = 0.0
    while True:
        await asyncio.sleep(max(0.0, t0 + start + window - clock()))
        cells = []
        for name in SERIES:
            values = getattr(m, name).between(start, start + window)
            cells.append(f"{len(values):>8} {pct(values, 0.5):>7.1f} {pct(values, 0.99):>7.1f}")
        tail = "  ".join(f"{k} {v[-1].value:.0f}" for k, v in m.samples.items() if v)
        print(
            f"{start:>5.0f}-{start + window:<4.0f}" + "".join(f"{c:>25}" for c in cells),
            tail,
            flush=True,
        )
        start += window


def summary(name: str, m: Measures, after: float) -> dict[str, list[float]]:
    print(f"\n{name}: after the first {after:.0f} s")
    print(f"{'series':<8}{'n':>9}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    kept: dict[str, list[float]] = {}
    for series in SERIES:
        values = getattr(m, series).between(after, float("inf"))
        kept[series] = values
        print(
            f"{series:<8}{len(values):>9}{pct(values, 0.5):>10.2f}{pct(values, 0.99):>10.2f}"
            f"{max(values, default=float('nan')):>10.1f}"
        )
    problems = ", ".join(f"{k}: {v}" for k, v in m.problems.most_common()) or "none"
    print(f"problems: {problems}; notes updates seen only in a catch-up: {m.unseen_notes}")
    return kept


def report_flatness(m: Measures, warmup: float, end: float, nodes: int) -> bool:
    # Samples from the end on see members leaving: not the steady state.
    results: list[Flatness] = [
        flatness(name, [x for x in s if x.t < end], warmup, judge=judged(name, nodes))
        for name, s in m.samples.items()
    ]
    print(f"\nFlat after the {warmup:.0f} s warm-up (drift = least-squares slope times span):")
    header = f"{'series':<28}{'first':>9}{'last':>9}{'min':>9}{'max':>9}{'drift':>9}"
    print(header + f"{'bound':>9}  verdict")
    for r in results:
        verdict = ("PASS" if r.ok else "FAIL") if r.judged else "(shown)"
        print(
            f"{r.name:<28}{r.first:>9.1f}{r.last:>9.1f}{r.low:>9.1f}{r.high:>9.1f}"
            f"{r.drift:>+9.1f}{r.bound:>9.1f}  {verdict}"
        )
    return all(r.ok for r in results)


def first_compaction_s(load: Load, window_s: float) -> float:
    """When every room has been compacted once, rounded up to a whole window: until then each
    room keeps its updates since its snapshot (``COMPACT_AFTER`` of them), so memory grows by
    design and a least-squares drift over that fill would blame a leak. Both members type."""
    updates_per_s = 2 / load.type
    fill = load.ramp + COMPACT_AFTER / updates_per_s
    return math.ceil(fill / window_s) * window_s


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--nodes", type=int, choices=(1, 2), default=1)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument(
        "--minutes", type=float, help="default: the warm-up and 10 minutes judged after it"
    )
    parser.add_argument(
        "--warmup",
        type=float,
        help="minutes before flatness counts; default: until every room's notes were compacted "
        "once (before that, each room's updates since its snapshot fill memory by design)",
    )
    parser.add_argument("--baseline-minutes", type=float, default=2.0, help="0: no baseline")
    parser.add_argument("--window", type=float, default=60.0, help="seconds per reported window")
    parser.add_argument("--postgres", action="store_true", help="one node on PostgreSQL")
    parser.add_argument("--server-logs", type=Path, help="write each node's log (WARNING) here")
    parser.add_argument(
        "--sign-ins",
        type=int,
        default=50,
        help="mentors and trainees (each signs in once: ~2 s apiece on a busy 2-core machine); "
        "session s is mentor s mod N's with trainee s mod N",
    )
    args = parser.parse_args()
    load = Load()
    if args.warmup is None:
        args.warmup = first_compaction_s(load, args.window) / 60
    if args.minutes is None:
        args.minutes = args.warmup + 10
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # a long run: show each window
    document_bytes = document_bytes_per_update()  # before the generator's own documents exist
    load_before = os.getloadavg()
    print(
        f"load average before: {' '.join(f'{x:.2f}' for x in load_before)} ({os.cpu_count()} cores)"
    )
    with tempfile.TemporaryDirectory() as workdir:
        async with contextlib.AsyncExitStack() as stack:
            database_url = redis_url = None
            if args.nodes > 1 or args.postgres:
                database_url = await stack.enter_async_context(postgres_database())
            if args.nodes > 1:
                port = free_port()
                stack.enter_context(private_redis(port, Path(workdir)))
                await wait_port(port)
                redis_url = f"redis://127.0.0.1:{port}/0"
            server = await start_preceptor(
                stack,
                Path(workdir),
                sessions=args.sessions,
                sign_ins=min(args.sign_ins, args.sessions),
                nodes=args.nodes,
                database_url=database_url,
                redis_url=redis_url,
                # Every socket comes from 127.0.0.1 here, as no real program's would.
                env={"PRECEPTOR_SOCKET_OPENS_PER_MIN_PER_ADDRESS": str(20 * args.sessions + 600)},
                log_dir=args.server_logs,
            )
            target = preceptor_target(server)
            print(f"{target.name}: {args.sessions} sessions for {args.minutes} min")
            print(f"a notes document keeps {document_bytes:.0f} B per typed update (calibrated)")
            ours = await soak(
                target, args.sessions, args.minutes * 60, load, args.window, document_bytes
            )
            await report_moves(target)
        warmup = args.warmup * 60
        kept = summary(target.name, ours, warmup)
        flat = report_flatness(ours, warmup, args.minutes * 60, args.nodes)
    if args.baseline_minutes > 0:
        async with contextlib.AsyncExitStack() as stack:
            base = await baseline_target(stack)
            print(f"\n{base.name}: {args.sessions} sessions for {args.baseline_minutes} min")
            theirs = await soak(base, args.sessions, args.baseline_minutes * 60, load, args.window)
        baseline = summary(base.name, theirs, load.ramp + 10)
        for series in ("relay", "notes"):
            if baseline[series] and kept[series]:
                ratio = pct(kept[series], 0.99) / pct(baseline[series], 0.99)
                print(f"{series} p99 ours / baseline = {ratio:.2f}")
    used = resource.getrusage(resource.RUSAGE_SELF)
    print(
        f"\nload generator CPU: {used.ru_utime + used.ru_stime:.0f} s; load average after: "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    print("flat: PASS" if flat else "flat: FAIL")
    return 0 if flat else 1


if __name__ == "__main__":
    try:
        import uvloop
    except ImportError:
        sys.exit(asyncio.run(main()))
    else:
        sys.exit(uvloop.run(main()))
