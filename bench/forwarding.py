"""Forwarding benchmark: K publishers x M viewers of 640x480 VP8 at 30 fps through the media
router (packet-level forwarding), beside the same load through aiortc's stock `MediaRelay`
(decode once, re-encode per viewer), measured in the same run (issue 11, DESIGN.md §3).

The server runs in its own process (its CPU time is measured alone); publishers and viewers are
aiortc peers in this process, on loopback only (iceServers=[], host candidates 127.0.0.1).
Each publisher films noise (so the encoder produces a realistic ~50-70 packets/s) under a band
whose grey level counts frames; viewers decode and read the band, which gives each frame's
end-to-end latency (capture -> encode -> server -> decode) and the delivered frame rate.

    .venv/bin/python bench/forwarding.py [--publishers 2] [--viewers 2] [--seconds 15]
    .venv/bin/python bench/forwarding.py --ceiling [--publishers 10] [--steps 5,10,15,20,25,30]

`--ceiling` ramps streams through the router alone, pinned to one core, with pre-encoded
packets and viewers that never decrypt (see bench/forwarding_ceiling.py).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aioice.ice
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.contrib.media import MediaRelay
from av import VideoFrame

from media import ForwardingRules, MediaConfig, MediaOffer, MediaRouter, Narrowing
from signaling.ids import PeerId, SessionId

ROOM = SessionId("bench")
WIDTH, HEIGHT, BAND = 640, 480, 64
NOISE_ROWS = 96
STEPS = 50  # the counter band repeats every 50 frames (1.7 s)


def band_luma(counter: int) -> int:
    return 20 + (counter % STEPS) * 4


def loopback() -> mock._patch[Any]:
    return mock.patch.object(aioice.ice, "get_host_addresses", return_value=["127.0.0.1"])


def config() -> RTCConfiguration:
    return RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)


def _reader(
    loop: asyncio.AbstractEventLoop, pipe: Connection, into: asyncio.Queue[tuple[Any, ...]]
) -> None:
    """The pipe's messages, into the event loop's queue, until the other end goes away."""
    with contextlib.suppress(EOFError, OSError, RuntimeError):
        while True:
            loop.call_soon_threadsafe(into.put_nowait, pipe.recv())


# --- the server process ---------------------------------------------------------------------


def serve(mode: str, pipe: Connection, viewers: list[str], publishers: list[str]) -> None:
    with loopback():
        asyncio.run(_serve(mode, pipe, viewers, publishers))


async def _serve(mode: str, pipe: Connection, viewers: list[str], publishers: list[str]) -> None:
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    threading.Thread(target=_reader, args=(loop, pipe, inbox), daemon=True).start()
    send: Callable[[tuple[Any, ...]], None] = pipe.send
    timings: list[int] = []
    router: MediaRouter | None = None
    relay = MediaRelay()
    pcs: dict[str, RTCPeerConnection] = {}
    tracks: dict[str, MediaStreamTrack] = {}
    if mode == "router":
        router = MediaRouter(
            MediaConfig(ice_timeout_s=30),
            lambda e: send(("offer", e.member_id, e.sdp)) if isinstance(e, MediaOffer) else None,
        )
        watching = frozenset(PeerId(v) for v in viewers)
        router.set_rules(
            ROOM,
            ForwardingRules(
                observers=watching,
                narrowings=tuple(Narrowing(PeerId(p), "video", watching) for p in publishers),
            ),
        )
        from media import connection as media_connection

        original = media_connection.MemberConnection._on_datagram

        def timed(self: Any, data: bytes) -> bool:
            started = time.perf_counter_ns()
            taken = original(self, data)
            if taken and len(timings) < 200_000:
                timings.append(time.perf_counter_ns() - started)
            return taken

        media_connection.MemberConnection._on_datagram = timed  # type: ignore[method-assign]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    while True:
        message = await inbox.get()
        kind = message[0]
        if kind == "join":
            member, role = message[1], message[2]
            if router is not None:
                send(("offer", member, await router.join(ROOM, PeerId(member))))
                continue
            pc = pcs[member] = RTCPeerConnection(config())
            if role == "publisher":
                pc.addTransceiver("video", direction="recvonly")
                pc.on("track", lambda track, m=member: tracks.__setitem__(m, track))
            else:
                for publisher in publishers:
                    pc.addTrack(relay.subscribe(tracks[publisher]))
            await pc.setLocalDescription(await pc.createOffer())
            send(("offer", member, pc.localDescription.sdp))
        elif kind == "answer":
            if router is not None:
                await router.answer(ROOM, PeerId(message[1]), message[2])
            else:
                await pcs[message[1]].setRemoteDescription(
                    RTCSessionDescription(sdp=message[2], type="answer")
                )
        elif kind == "start":
            usage, timings[:] = resource.getrusage(resource.RUSAGE_SELF), []
        elif kind == "stop":
            now = resource.getrusage(resource.RUSAGE_SELF)
            cpu = (now.ru_utime - usage.ru_utime) + (now.ru_stime - usage.ru_stime)
            send(("cpu", cpu, sorted(timings)))
        elif kind == "quit":
            break
    if router is not None:
        await router.close()
    for pc in pcs.values():
        await pc.close()


# --- the clients (this process) ---------------------------------------------------------------


class CountingCamera(VideoStreamTrack):
    """Noise under a band whose grey level counts frames, and a band naming the publisher."""

    def __init__(self, index: int, sent_at: dict[tuple[int, int], float]) -> None:
        super().__init__()
        self.index, self.sent_at, self.counter = index, sent_at, 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=WIDTH, height=HEIGHT)
        luma = frame.planes[0]
        stride = luma.line_size
        top = bytes([band_luma(self.counter)]) * (stride * BAND)
        bottom = bytes([40 + 40 * self.index]) * (stride * BAND)
        # A stripe of fresh noise keeps the encoder busy at a realistic packet rate without
        # making this process (which also decodes for every viewer) the bottleneck.
        middle = HEIGHT - 2 * BAND
        noise = os.urandom(stride * NOISE_ROWS) + bytes([128]) * (stride * (middle - NOISE_ROWS))
        luma.update(top + noise + bottom)
        for plane in frame.planes[1:]:
            plane.update(bytes([128]) * plane.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        self.sent_at[(self.index, self.counter % STEPS)] = time.monotonic()
        self.counter += 1
        return frame


class Viewer:
    def __init__(self, sent_at: dict[tuple[int, int], float]) -> None:
        self.pc = RTCPeerConnection(config())
        self.sent_at = sent_at
        self.frames: dict[int, int] = {}
        self.latencies: list[float] = []
        self.measuring = False
        self.tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", lambda track: self.tasks.append(asyncio.create_task(self.read(track))))

    async def read(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(Exception):
            while True:
                frame = await track.recv()
                plane = bytes(frame.planes[0])
                stride = frame.planes[0].line_size
                counter = round((plane[stride * (BAND // 2) + WIDTH // 2] - 20) / 4) % STEPS
                publisher = round((plane[stride * (HEIGHT - BAND // 2) + WIDTH // 2] - 40) / 40)
                if not self.measuring:
                    continue
                self.frames[publisher] = self.frames.get(publisher, 0) + 1
                sent = self.sent_at.get((publisher, counter))
                if sent is not None:
                    self.latencies.append(time.monotonic() - sent)


async def run(mode: str, k: int, m: int, seconds: float) -> dict[str, float]:
    publishers = [f"p{i}" for i in range(k)]
    viewers = [f"v{i}" for i in range(m)]
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=serve, args=(mode, theirs, viewers, publishers)
    )
    server.start()
    loop = asyncio.get_running_loop()
    sent_at: dict[tuple[int, int], float] = {}
    pcs: dict[str, RTCPeerConnection] = {}
    viewer_of: dict[str, Viewer] = {}
    replies: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    threading.Thread(target=_reader, args=(loop, ours, replies), daemon=True).start()

    async def answer(member: str, sdp: str, camera: MediaStreamTrack | None) -> None:
        pc = pcs[member]
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        if camera is not None and pc.getSenders()[0].track is None:
            pc.addTrack(camera)
        await pc.setLocalDescription(await pc.createAnswer())
        ours.send(("answer", member, pc.localDescription.sdp))

    cameras: dict[str, MediaStreamTrack] = {}
    for i, member in enumerate(publishers):
        pcs[member] = RTCPeerConnection(config())
        cameras[member] = CountingCamera(i, sent_at)
    for member in viewers:
        viewer_of[member] = Viewer(sent_at)
        pcs[member] = viewer_of[member].pc

    async def pump() -> None:
        while True:
            message = await replies.get()
            if message[0] == "offer":
                await answer(message[1], message[2], cameras.get(message[1]))
            elif message[0] == "cpu":
                results.put_nowait(message)

    results: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    pumping = asyncio.create_task(pump())
    for member in publishers:
        ours.send(("join", member, "publisher"))
    await asyncio.sleep(3)  # publishers up before the relay's viewers subscribe to their tracks
    for member in viewers:
        ours.send(("join", member, "viewer"))
    await asyncio.sleep(5)  # warm-up: ICE, DTLS, first keyframes
    ours.send(("start",))
    for viewer in viewer_of.values():
        viewer.measuring = True
    await asyncio.sleep(seconds)
    for viewer in viewer_of.values():
        viewer.measuring = False
    ours.send(("stop",))
    _, cpu, timings = await results.get()
    ours.send(("quit",))
    pumping.cancel()
    for pc in pcs.values():
        await pc.close()
    await loop.run_in_executor(None, server.join, 10)
    streams = k * m
    fps = [n / seconds for v in viewer_of.values() for n in v.frames.values()]
    fps += [0.0] * (streams - len(fps))
    latencies = sorted(x for v in viewer_of.values() for x in v.latencies)
    return {
        "streams": streams,
        "cpu_per_stream": cpu / seconds / streams,
        "fps_min": min(fps),
        "fps_mean": statistics.fmean(fps),
        "latency_p50_ms": 1000 * latencies[len(latencies) // 2] if latencies else float("nan"),
        "latency_p95_ms": 1000 * latencies[int(len(latencies) * 0.95)]
        if latencies
        else float("nan"),
        "packet_us_p50": timings[len(timings) // 2] / 1000 if timings else float("nan"),
        "packet_us_p99": timings[int(len(timings) * 0.99)] / 1000 if timings else float("nan"),
        "packets": len(timings),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--publishers", type=int, default=2)
    parser.add_argument("--viewers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument(
        "--ceiling", action="store_true", help="ramp to the streams-per-core ceiling"
    )
    parser.add_argument("--steps", default="5,10,15,20,25,30", help="--ceiling: viewers per step")
    args = parser.parse_args()
    if args.ceiling:
        from bench import forwarding_ceiling

        steps = [int(n) for n in args.steps.split(",")]
        with loopback():
            forwarding_ceiling.main(args.publishers, steps, min(args.seconds, 10.0))
        return
    rows = {}
    with loopback():
        for mode in ("router", "relay"):
            rows[mode] = asyncio.run(run(mode, args.publishers, args.viewers, args.seconds))
    print(
        f"{args.publishers} publishers x {args.viewers} viewers, 640x480 VP8 30 fps, "
        f"{args.seconds:.0f} s measured"
    )
    print(
        "| server | streams | server CPU per stream | viewer fps (min / mean) "
        "| e2e latency p50 / p95 | per packet p50 / p99 |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for mode, r in rows.items():
        name = "media router (packet forwarding)" if mode == "router" else "aiortc MediaRelay"
        per_packet = (
            f"{r['packet_us_p50']:.0f} / {r['packet_us_p99']:.0f} µs" if r["packets"] else "n/a"
        )
        print(
            f"| {name} | {r['streams']:.0f} | {100 * r['cpu_per_stream']:.2f} % of a core "
            f"| {r['fps_min']:.1f} / {r['fps_mean']:.1f} "
            f"| {r['latency_p50_ms']:.0f} / {r['latency_p95_ms']:.0f} ms | {per_packet} |"
        )
    ratio = rows["router"]["cpu_per_stream"] / rows["relay"]["cpu_per_stream"]
    print(f"\nrouter CPU per stream = {ratio:.3f} x the relay's")


if __name__ == "__main__":
    main()
