"""The forwarding ceiling (`bench/forwarding.py --ceiling`): how many video streams one core of
the media router forwards, RTCP included, before delivery or latency degrades (issue 11).

The server (the media router, as `bench/forwarding.py` runs it) is pinned to core 0 (what
`taskset -c 0` does); the load generator to core 1. So that the generator is never the
bottleneck, nothing is encoded or decoded while measuring:
- publishers are aiortc peers whose track yields pre-encoded 640x480 VP8 `av.Packet`s (encoded
  once, cached under /tmp), 30 per second: aiortc only packetizes, protects and sends them, and
  stamps each packet's abs-send-time header extension;
- viewers are aiortc peers (ICE, DTLS and RTCP stay with aiortc) whose RTP datagrams are taken
  before aiortc unprotects them: the RTP header is in clear under SRTP, so each packet is counted
  and its abs-send-time read without decrypting. Publishers and viewers share this process's
  clock, so now - abs-send-time is the packet's one-way latency through the router.

`BENCH_PIN_LOAD=0` leaves the load generator free to run on either core (on a machine shared
with other work, one core of it alone could not keep up).

The ramp adds viewers (each receiving every publisher's video) step by step and measures each
plateau: delivered packets / packets sent x viewers, latency p50 / p99, the router's CPU
(getrusage of its process) and its time per datagram.
"""

from __future__ import annotations

import asyncio
import fractions
import multiprocessing
import os
import pickle
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.clock import current_ntp_time
from aiortc.codecs.vpx import Vp8Encoder

from bench.forwarding import _reader, config, serve
from media import hooks
from media.packets import URI_ABS_SEND_TIME, is_rtcp, parse_rtp

SERVER_CORE, LOAD_CORE = 0, 1
PIN_LOAD = os.environ.get("BENCH_PIN_LOAD", "1") == "1"
FPS = 30
WIDTH, HEIGHT = 640, 480
NOISE_ROWS = 12  # ~2-3 packets a frame: the ~70 packets/s of DESIGN.md §3
CACHE = Path(f"/tmp/preceptor-bench-vp8-{WIDTH}x{HEIGHT}-{NOISE_ROWS}.pickle")
MAX_LATENCIES = 200_000


def encoded_frames(count: int = 60) -> list[bytes]:
    """`count` VP8 frames (a keyframe first), encoded once and kept under /tmp."""
    if CACHE.exists():
        frames: list[bytes] = pickle.loads(CACHE.read_bytes())
        return frames
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    codec.bit_rate = 700_000
    codec.framerate = fractions.Fraction(FPS, 1)
    codec.time_base = fractions.Fraction(1, FPS)
    codec.gop_size = count
    codec.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    frames = []
    for index in range(count):
        frame = av.VideoFrame(width=WIDTH, height=HEIGHT, format="yuv420p")
        luma = frame.planes[0]
        noise = os.urandom(luma.line_size * NOISE_ROWS)
        luma.update(noise + bytes([90]) * (luma.buffer_size - len(noise)))
        for plane in frame.planes[1:]:
            plane.update(bytes([128]) * plane.buffer_size)
        frame.pts = index
        frames += [bytes(packet) for packet in codec.encode(frame)]
    frames += [bytes(packet) for packet in codec.encode(None)]
    CACHE.write_bytes(pickle.dumps(frames))
    return frames


class ReplayCamera(MediaStreamTrack):
    """Pre-encoded frames at 30 fps, looped: aiortc's sender packs `av.Packet`s as they are."""

    kind = "video"

    def __init__(self, frames: list[bytes], packets: list[int]) -> None:
        super().__init__()
        self.frames, self.packets_of = frames, packets
        self.index = 0
        self.packets = 0  # RTP packets aiortc makes of what was handed out
        self.started: float | None = None

    async def recv(self) -> av.Packet[Any]:
        loop = asyncio.get_running_loop()
        if self.started is None:
            self.started = loop.time()
        wait = self.started + self.index / FPS - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        packet = av.Packet(self.frames[self.index % len(self.frames)])
        self.packets += self.packets_of[self.index % len(self.frames)]
        packet.pts = self.index * (90_000 // FPS)
        packet.time_base = fractions.Fraction(1, 90_000)
        self.index += 1
        return packet


@dataclass
class Counts:
    measuring: bool = False
    received: int = 0
    latencies: list[float] = field(default_factory=list)


class CountingViewer:
    """Receives every publisher's video; counts RTP and reads abs-send-time, never decrypts."""

    def __init__(self, counts: Counts) -> None:
        self.pc = RTCPeerConnection(config())
        self.counts = counts
        self.abs_id = -1
        self.hooked = False

    def on_datagram(self, data: bytes) -> bool:
        if not data or not 127 < data[0] < 192 or is_rtcp(data):
            return False  # DTLS, STUN and RTCP: aiortc's
        counts = self.counts
        if counts.measuring:
            counts.received += 1
            header = parse_rtp(data)
            sent = header.extensions.get(self.abs_id) if header else None
            if sent is not None and len(sent) == 3 and len(counts.latencies) < MAX_LATENCIES:
                now = (current_ntp_time() >> 14) & 0xFFFFFF
                counts.latencies.append(((now - int.from_bytes(sent, "big")) & 0xFFFFFF) / 2**18)
        return True

    def hook(self, offer: str) -> None:
        for line in offer.splitlines():
            if line.startswith("a=extmap:") and URI_ABS_SEND_TIME in line:
                self.abs_id = int(line.split(":")[1].split()[0].split("/")[0])
        if not self.hooked:
            hooks.intercept_datagrams(
                self.pc.getTransceivers()[0].receiver.transport, self.on_datagram
            )
            self.hooked = True


@dataclass
class Step:
    streams: int
    viewers: int
    sent_pps: float
    delivered: float
    latency_p50_ms: float
    latency_p99_ms: float
    server_cpu: float
    packet_us_p50: float
    packet_us_p99: float


async def ramp(publishers: int, steps: list[int], seconds: float) -> list[Step]:
    """`steps`: the number of viewers at each plateau (each receives every publisher)."""
    frames = encoded_frames()
    packets = _packets(frames)
    viewers_max = max(steps)
    publisher_ids = [f"p{i}" for i in range(publishers)]
    viewer_ids = [f"v{i}" for i in range(viewers_max)]
    ours, theirs = multiprocessing.Pipe()
    server = multiprocessing.get_context("spawn").Process(
        target=serve_pinned, args=(theirs, viewer_ids, publisher_ids)
    )
    server.start()
    if PIN_LOAD:
        os.sched_setaffinity(0, {LOAD_CORE})
    loop = asyncio.get_running_loop()
    replies: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    threading.Thread(target=_reader, args=(loop, ours, replies), daemon=True).start()
    counts = Counts()
    pcs: dict[str, RTCPeerConnection] = {}
    cameras: dict[str, ReplayCamera] = {}
    viewers: dict[str, CountingViewer] = {}
    results: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()

    async def answer(member: str, sdp: str) -> None:
        pc = pcs[member]
        await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        camera = cameras.get(member)
        if camera is not None and pc.getSenders()[0].track is None:
            pc.addTrack(camera)
        if member in viewers:
            viewers[member].hook(sdp)
        await pc.setLocalDescription(await pc.createAnswer())
        ours.send(("answer", member, pc.localDescription.sdp))

    async def pump() -> None:
        while True:
            message = await replies.get()
            if message[0] == "offer":
                await answer(message[1], message[2])
            else:
                results.put_nowait(message)

    pumping = asyncio.create_task(pump())
    for member in publisher_ids:
        pcs[member] = RTCPeerConnection(config())
        cameras[member] = ReplayCamera(frames, packets)
        ours.send(("join", member, "publisher"))
    await asyncio.sleep(3)
    out: list[Step] = []
    joined = 0
    for target in steps:
        for member in viewer_ids[joined:target]:
            viewers[member] = CountingViewer(counts)
            pcs[member] = viewers[member].pc
            ours.send(("join", member, "viewer"))
        joined = target
        await asyncio.sleep(4 + target / 10)  # ICE, DTLS, every subscription flowing
        sent_before = sum(c.packets for c in cameras.values())
        counts.received, counts.latencies = 0, []
        ours.send(("start",))
        counts.measuring = True
        started = time.monotonic()
        await asyncio.sleep(seconds)
        counts.measuring = False
        ours.send(("stop",))
        elapsed = time.monotonic() - started
        _, cpu, timings = await results.get()
        sent = sum(c.packets for c in cameras.values()) - sent_before
        expected = sent * target
        latencies = sorted(counts.latencies)
        out.append(
            Step(
                streams=publishers * target,
                viewers=target,
                sent_pps=sent / elapsed / publishers,
                delivered=counts.received / expected if expected else float("nan"),
                latency_p50_ms=1000 * _pick(latencies, 0.5),
                latency_p99_ms=1000 * _pick(latencies, 0.99),
                server_cpu=cpu / seconds,
                packet_us_p50=_pick(timings, 0.5) / 1000,
                packet_us_p99=_pick(timings, 0.99) / 1000,
            )
        )
        print(_row(out[-1]), flush=True)
    ours.send(("quit",))
    pumping.cancel()
    for pc in pcs.values():
        await pc.close()
    await loop.run_in_executor(None, server.join, 20)
    return out


def serve_pinned(pipe: Any, viewers: list[str], publishers: list[str]) -> None:
    os.sched_setaffinity(0, {SERVER_CORE})
    serve("router", pipe, viewers, publishers)


def _packets(frames: list[bytes]) -> list[int]:
    """How many RTP packets aiortc's VP8 packetizer makes of each frame."""
    packer = Vp8Encoder()
    return [len(packer._packetize(frame, 1)) for frame in frames]


def _pick(values: list[float] | list[int], quantile: float) -> float:
    return (
        float(values[min(len(values) - 1, int(len(values) * quantile))]) if values else float("nan")
    )


HEADER = (
    "| streams | packets/s per publisher | delivered | latency p50 / p99 | router CPU "
    "| router per datagram p50 / p99 | per forwarded packet | streams per core at that cost |\n"
    "| --- | --- | --- | --- | --- | --- | --- | --- |"
)


def per_forward_us(step: Step) -> float:
    """The router's own time per forwarded packet: a datagram's time over its viewers."""
    return step.packet_us_p50 / step.viewers


def per_core(step: Step) -> float:
    """Streams one core forwards if each costs what this step measured (router time alone)."""
    return 1e6 / (per_forward_us(step) * step.sent_pps)


def _row(step: Step) -> str:
    return (
        f"| {step.streams} | {step.sent_pps:.0f} | {100 * step.delivered:.2f} % "
        f"| {step.latency_p50_ms:.1f} / {step.latency_p99_ms:.1f} ms "
        f"| {100 * step.server_cpu:.0f} % of a core "
        f"| {step.packet_us_p50:.0f} / {step.packet_us_p99:.0f} µs "
        f"| {per_forward_us(step):.0f} µs | {per_core(step):.0f} |"
    )


def ceiling(steps: list[Step], *, delivered: float = 0.99) -> Step | None:
    """The largest plateau that still delivered (nearly) everything: its CPU cost per stream
    says how many streams the core carries when nothing else runs on it."""
    good = [s for s in steps if s.delivered >= delivered]
    return max(good, key=lambda s: s.streams) if good else None


def main(publishers: int, steps: list[int], seconds: float) -> None:
    if len(os.sched_getaffinity(0)) < 2:
        raise SystemExit(
            "the ceiling run needs two cores: the router on one, the load on the other"
        )
    print(f"{publishers} publishers of pre-encoded 640x480 VP8 at {FPS} fps; viewers {steps}")
    print(HEADER, flush=True)
    found = asyncio.run(ramp(publishers, steps, seconds))
    best = ceiling(found)
    measured = [s for s in found if s.packet_us_p50 == s.packet_us_p50 and s.viewers >= 5]
    if measured:
        costs = sorted(per_core(s) for s in measured)
        print(
            f"\nby the router's own time per forwarded packet: {costs[0]:.0f}-{costs[-1]:.0f} "
            "streams per core"
        )
    if best is None:
        print("no plateau delivered >= 99 %: the load generator, not the router, fell behind")
    else:
        print(
            f"\n{best.streams} video streams forwarded on one core, {100 * best.delivered:.2f} % "
            f"delivered, the router {100 * best.server_cpu:.0f} % busy: "
            f"~{best.streams / best.server_cpu:.0f} streams per core at this cost"
        )
