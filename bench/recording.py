"""Recording benchmark (issue 12): CPU per recorded 640x480 VP8 + Opus track set with the
copy-mux recorder (media/recording: depayload, mux, seal — no decode, no encode), beside aiortc's
`MediaRecorder` fed the same packets the way a server would have to feed it (aiortc's jitter
buffer and decoder thread, then MediaRecorder re-encoding into WebM), in the same run: once with
libvpx set for real time as aiortc's own encoder runs it (the ratio's baseline) and, with
`--default-libvpx`, with MediaRecorder's default libvpx, which cannot keep up with 30 fps here.

The input is made once, before measuring: a camera-like 640x480 picture at 30 fps (a textured
wall with edges, panned as by a hand-held camera, a detailed moving figure, and sensor noise in
every frame) encoded by aiortc's own VP8 encoder at a camera's bitrate (`--bitrate`), with a
voice-like 20 ms Opus stream and a sender report a second per stream.

Each recorder runs in its own process (`--serve`, uvloop as the server runs it) that receives
the packets as RTP/RTCP datagrams on loopback UDP and hands them to the recorder, as the
forwarder does; this process only sends them, in real time. The figures are that process's CPU
time (user + sys, every thread) minus that of a process that receives the same packets and
hands them to nothing, and its event loop's lateness (a 1 ms ticker), in the same run.

    .venv/bin/python bench/recording.py [--seconds 20] [--tracks 1] [--rounds 1] [--realtime]
        [--default-libvpx] [--bitrate 1200000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import fractions
import io
import json
import math
import os
import queue
import random
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from statistics import median
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import av
import av.filter
from aiortc import MediaStreamTrack
from aiortc.codecs import depayload
from aiortc.codecs.opus import OpusEncoder
from aiortc.codecs.vpx import Vp8Encoder, number_of_threads
from aiortc.contrib.media import MediaRecorder
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import decoder_worker
from aiortc.rtp import RtcpPacket, RtcpSenderInfo, RtcpSrPacket, RtpPacket

from media.packets import RtpHeader, parse_rtp
from media.recording import Keyring, Recorder, SealedReader, finalize

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)
VIDEO_SSRC, AUDIO_SSRC = 0x1111, 0x2222
KINDS = {VIDEO_SSRC: "video", AUDIO_SSRC: "audio"}
_NTP_EPOCH_OFFSET = 2_208_988_800
_END = b"END"
MODES = ("nothing", "copy", "aiortc-realtime", "aiortc")
# libvpx as aiortc's own real-time VP8 encoder (`Vp8Encoder`) runs it, at the input's bitrate.
# MediaRecorder's default (libvpx's "good" deadline, threads=auto) needed 60-100 ms of CPU per
# 640x480 picture on this 2-core machine: it cannot keep up with 30 fps at all.
_REALTIME_VP8 = {"deadline": "realtime", "cpu-used": "-6", "lag-in-frames": "0"}

# --- the input: made once, before anything is measured -----------------------------------------


def _scene(frames: int) -> Iterator[av.VideoFrame]:
    """A camera-like picture: a textured wall (Perlin noise, a grid, a framed picture) seen
    through a hand-held camera's drift, a detailed moving figure, and sensor noise."""
    graph = av.filter.Graph()

    def chain(*specs: tuple[str, str | None]) -> tuple[Any, Any]:
        first = last = None
        for name, args in specs:
            node = graph.add(name, args)
            if last is not None:
                last.link_to(node)
            first, last = first or node, node
        return first, last

    _, wall = chain(
        ("perlin", "size=800x600:rate=30:octaves=8:persistence=0.7:xscale=5:yscale=4:seed=7"),
        ("drawbox", "x=100:y=60:w=180:h=230:color=0x3a5a70@1:t=fill"),
        ("drawbox", "x=120:y=80:w=140:h=190:color=0xd8d0b0@0.8:t=12"),
        ("drawgrid", "w=90:h=70:t=3:color=0x302820@0.7"),
        ("format", "yuv420p"),
        ("curves", "m=0/0 0.35/0.15 0.65/0.85 1/1"),
        ("vignette", "PI/5"),
        ("loop", "loop=-1:size=1:start=0"),  # the wall is still; the camera moves
        ("crop", "w=640:h=480:x=80+70*sin(t*0.9)+10*sin(t*7):y=60+50*sin(t*0.6)+8*sin(t*5.3)"),
    )
    _, figure = chain(("mandelbrot", "size=200x260:rate=30"), ("format", "yuva420p"))
    overlay = graph.add("overlay", "x=220+160*sin(t*0.8):y=150+30*sin(t*1.3)")
    wall.link_to(overlay, 0, 0)
    figure.link_to(overlay, 0, 1)
    noise, last = chain(("noise", "alls=5:allf=t"), ("format", "yuv420p"))
    overlay.link_to(noise)
    sink = graph.add("buffersink")
    last.link_to(sink)
    graph.configure()
    for index in range(frames):
        frame = sink.pull()
        assert isinstance(frame, av.VideoFrame)
        frame.pts, frame.time_base = index * 3000, fractions.Fraction(1, 90000)
        yield frame


def _voice(index: int, rng: random.Random) -> av.AudioFrame:
    """20 ms of a voice-like signal: a harmonic tone whose pitch and loudness wander."""
    frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
    t0 = index * 960
    pitch = 140 + 40 * math.sin(index / 23)
    loudness = 6000 * max(0.0, math.sin(index / 9)) + 300
    samples = bytearray()
    for n in range(960):
        t = (t0 + n) / 48000
        value = sum(math.sin(2 * math.pi * pitch * h * t) / h for h in (1, 2, 3))
        sample = int(loudness * value + rng.gauss(0, 120))
        samples += max(-32768, min(32767, sample)).to_bytes(2, "little", signed=True) * 2
    frame.planes[0].update(bytes(samples))
    frame.sample_rate = 48000
    frame.pts, frame.time_base = t0, fractions.Fraction(1, 48000)
    return frame


def _ntp(seconds: float) -> int:
    return int((seconds + _NTP_EPOCH_OFFSET) * 2**32)


def _report(ssrc: int, at: float, rtp_timestamp: int) -> bytes:
    info = RtcpSenderInfo(
        ntp_timestamp=_ntp(at), rtp_timestamp=rtp_timestamp, packet_count=0, octet_count=0
    )
    return bytes(RtcpSrPacket(ssrc=ssrc, sender_info=info))


def make_input(seconds: float, bitrate: int) -> list[tuple[float, bytes]]:
    """Datagrams (RTP and RTCP sender reports) with the media second each is sent at."""
    video, audio = Vp8Encoder(), OpusEncoder()
    video.target_bitrate = bitrate
    rng = random.Random(3)
    sequences = {VIDEO_SSRC: 1000, AUDIO_SSRC: 5000}
    out: list[tuple[float, bytes]] = []

    def rtp(
        at: float, ssrc: int, payload_type: int, timestamp: int, payload: bytes, marker: bool
    ) -> None:
        packet = RtpPacket(
            payload_type=payload_type,
            marker=int(marker),
            sequence_number=sequences[ssrc] & 0xFFFF,
            timestamp=timestamp,
            ssrc=ssrc,
            payload=payload,
        )
        sequences[ssrc] += 1
        out.append((at, packet.serialize()))

    audio_index = 0
    frames = int(seconds * 30)
    for index, picture in enumerate(_scene(frames)):
        at = index / 30
        if index % 30 == 0:  # a sender report a second per stream, as browsers send them
            out.append((at, _report(VIDEO_SSRC, at, (index * 3000) & 0xFFFFFFFF)))
            out.append((at, _report(AUDIO_SSRC, audio_index * 0.02, audio_index * 960)))
        # A keyframe at the start and every 10 s (browsers send them on request).
        payloads, timestamp = video.encode(picture, force_keyframe=index % 300 == 0)
        for n, payload in enumerate(payloads):
            rtp(at, VIDEO_SSRC, 96, timestamp, payload, n == len(payloads) - 1)
        while audio_index * 0.02 < min(at + 1 / 30, seconds):
            (payload,), timestamp = audio.encode(_voice(audio_index, rng))
            rtp(audio_index * 0.02, AUDIO_SSRC, 111, timestamp, payload, False)
            audio_index += 1
    out.sort(key=lambda sent: sent[0])
    return out


# --- the recorder's process ---------------------------------------------------------------------


class Ticker:
    """The event loop's lateness: a callback that asks to run again 1 ms later, every time
    (a plain callback, not a task: the cheapest probe, so its own CPU varies the least)."""

    def __init__(self) -> None:
        self.late: list[float] = []
        self._handle: asyncio.TimerHandle | None = None

    def _tick(self, asked: float) -> None:
        now = time.perf_counter()
        self.late.append(now - asked - 0.001)
        self._handle = self._loop.call_later(0.001, self._tick, now)

    def __enter__(self) -> Ticker:
        self._loop = asyncio.get_running_loop()
        self._handle = self._loop.call_later(0.001, self._tick, time.perf_counter())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._handle is not None
        self._handle.cancel()


class _NoKeyframes:
    def request_keyframe(self) -> None:
        pass

    def close(self) -> None:
        pass


class _Decoded(MediaStreamTrack):
    def __init__(self, kind: str, frames: asyncio.Queue[Any]) -> None:
        super().__init__()
        self.kind = kind
        self._frames = frames

    async def recv(self) -> Any:
        frame = await self._frames.get()
        if frame is None:
            self.stop()
            raise asyncio.CancelledError
        return frame[0] if isinstance(frame, tuple) else frame


class _Receiver:
    """What aiortc's RTCRtpReceiver does with one track's packets: jitter buffer, depayload,
    decode in a worker thread."""

    def __init__(self, kind: str, loop: asyncio.AbstractEventLoop) -> None:
        self.codec = OPUS if kind == "audio" else VP8
        video = kind == "video"
        self.buffer = JitterBuffer(capacity=128 if video else 16, is_video=video)
        self.decoded: asyncio.Queue[Any] = asyncio.Queue()
        self.input: queue.Queue[Any] = queue.Queue()
        self.thread = threading.Thread(
            target=decoder_worker, args=(loop, self.input, self.decoded, threading.Event())
        )
        self.thread.start()
        self.track = _Decoded(kind, self.decoded)

    def packet(self, header: RtpHeader) -> None:
        packet = RtpPacket(
            payload_type=header.payload_type,
            marker=int(header.marker),
            sequence_number=header.sequence,
            timestamp=header.timestamp,
            ssrc=header.ssrc,
            payload=header.payload,
        )
        packet._data = depayload(self.codec, packet.payload)  # type: ignore[attr-defined]
        _, frame = self.buffer.add(packet)
        if frame is not None:
            self.input.put((self.codec, frame))


class Sink:
    """What one mode does with every packet, for each of `tracks` recorded track sets."""

    def __init__(self, mode: str, tracks: int, directory: Path, bitrate: int) -> None:
        self.mode, self.tracks, self.directory, self.bitrate = mode, tracks, directory, bitrate
        self.keyring = Keyring([bytes(32)])
        self.recorders: list[Any] = []
        self.receivers: list[dict[str, _Receiver]] = []
        self.extra: dict[str, Any] = {}

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        for n in range(self.tracks):
            if self.mode == "copy":
                recorder = Recorder(
                    self.directory / f"copy-{n}.live",
                    self.keyring,
                    video_codec="VP8",
                    kinds={"audio", "video"},
                )
                recorder.start(_NoKeyframes())
                self.recorders.append(recorder)
            elif self.mode.startswith("aiortc"):
                pair = {"audio": _Receiver("audio", loop), "video": _Receiver("video", loop)}
                media = MediaRecorder(str(self.directory / f"aiortc-{n}.webm"))
                media.addTrack(pair["audio"].track)
                media.addTrack(pair["video"].track)
                # aiortc sets the picture size from the first picture, but by then PyAV (≥ 14)
                # has opened the codec (the audio's first packet wrote the file's header):
                # "Cannot change width after codec is open" ends the video task, and the file
                # holds audio alone. Set it before, as a server that knew the size would.
                for context in media._MediaRecorder__tracks.values():  # type: ignore[attr-defined]
                    if context.stream.type == "video":
                        context.stream.width, context.stream.height = 640, 480
                        if self.mode == "aiortc-realtime":
                            codec = context.stream.codec_context
                            codec.options = _REALTIME_VP8
                            codec.bit_rate = self.bitrate
                            codec.thread_count = number_of_threads(640 * 480, os.cpu_count() or 1)
                        context.started = True
                await media.start()
                self.recorders.append(media)
                self.receivers.append(pair)

    def rtp(self, kind: str, header: RtpHeader) -> None:
        if self.mode == "copy":
            for recorder in self.recorders:
                recorder.rtp(kind, header)
        else:
            for pair in self.receivers:
                pair[kind].packet(header)

    def sender_report(self, kind: str, ntp_timestamp: int, rtp_timestamp: int) -> None:
        if self.mode == "copy":
            for recorder in self.recorders:
                recorder.sender_report(kind, ntp_timestamp, rtp_timestamp)

    async def stop(self) -> None:
        if self.mode == "copy":
            outcomes = [await recorder.stop() for recorder in self.recorders]
            self.extra["worker_cpu_s"] = sum(r.cpu_s for r in self.recorders)
            self.extra["dropped"] = sum(o.dropped for o in outcomes)
        elif self.mode.startswith("aiortc"):
            for pair in self.receivers:
                for receiver in pair.values():
                    receiver.input.put(None)
            for pair in self.receivers:
                for receiver in pair.values():
                    await asyncio.to_thread(receiver.thread.join)
            # Let MediaRecorder take what was decoded, as a live one would have.
            await asyncio.sleep(0.2)
            for media in self.recorders:
                with contextlib.suppress(Exception):
                    await media.stop()

    def check(self) -> None:
        """After measuring: what was recorded (finalized in this process, not measured)."""
        if self.mode == "copy":
            started = time.process_time()
            finished = finalize(
                self.directory / "copy-0.live", self.directory / "copy-0.webm", self.keyring
            )
            self.extra["finalize_cpu_s"] = time.process_time() - started
            self.extra["duration_s"] = finished.duration_s
            with SealedReader(self.directory / "copy-0.webm", self.keyring) as reader:
                self.extra["pictures"] = _pictures(io.BytesIO(reader.read()))
        elif self.mode.startswith("aiortc"):
            with av.open(str(self.directory / "aiortc-0.webm")) as container:
                self.extra["duration_s"] = (container.duration or 0) / 1_000_000
            self.extra["pictures"] = _pictures(self.directory / "aiortc-0.webm")


def _pictures(file: Any) -> int:
    """The video packets (pictures) a recorded file holds."""
    with av.open(file) as container:
        return sum(1 for packet in container.demux(video=0) if packet.size)


class _Receive(asyncio.DatagramProtocol):
    def __init__(self, sink: Sink, ended: asyncio.Event) -> None:
        self.sink, self.ended = sink, ended
        self.packets = 0
        self.longest = 0.0  # the longest one packet's hand-over took on the loop

    def datagram_received(self, data: bytes, addr: Any) -> None:
        if data == _END:
            self.ended.set()
            return
        self.packets += 1
        called = time.perf_counter()
        if data[1] == 200:  # RTCP sender report (RFC 3550 §6.4.1)
            for packet in RtcpPacket.parse(data):
                if isinstance(packet, RtcpSrPacket) and packet.ssrc in KINDS:
                    info = packet.sender_info
                    self.sink.sender_report(
                        KINDS[packet.ssrc], info.ntp_timestamp, info.rtp_timestamp
                    )
        else:
            header = parse_rtp(data)
            if header is not None and header.ssrc in KINDS:
                self.sink.rtp(KINDS[header.ssrc], header)
        self.longest = max(self.longest, time.perf_counter() - called)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return usage.ru_utime + usage.ru_stime


async def serve(mode: str, tracks: int, directory: Path, bitrate: int) -> None:
    loop = asyncio.get_running_loop()
    sink = Sink(mode, tracks, directory, bitrate)
    await sink.start()
    ended = asyncio.Event()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    udp.bind(("127.0.0.1", 0))
    transport, receive = await loop.create_datagram_endpoint(
        lambda: _Receive(sink, ended), sock=udp
    )
    with Ticker() as ticker:
        began, cpu, loop_cpu = time.perf_counter(), _cpu(), time.thread_time()
        print(json.dumps({"port": udp.getsockname()[1]}), flush=True)
        await ended.wait()
        await sink.stop()
        cpu, wall = _cpu() - cpu, time.perf_counter() - began
        loop_cpu = time.thread_time() - loop_cpu
    transport.close()
    sink.check()
    late = sorted(ticker.late)
    print(
        json.dumps(
            {
                "mode": mode,
                "cpu_s": cpu,
                "loop_cpu_s": loop_cpu,  # the event loop's thread; the rest is other threads'
                "wall_s": wall,
                "packets": receive.packets,
                "worst_stall_s": late[-1],
                "p99_stall_s": late[int(len(late) * 0.99)],
                "stalls_over_5ms": sum(1 for t in late if t > 0.005),
                "ticks": len(late),
                "longest_handover_s": receive.longest,
                **sink.extra,
            }
        ),
        flush=True,
    )


def _serve_main(mode: str, tracks: int, directory: Path, bitrate: int, realtime: bool) -> None:
    if realtime:
        # Before any thread starts (threads inherit it): the machine's other processes can no
        # longer delay this one, so its loop's lateness is its own (the recorder's threads and
        # GIL), not the load's. Needs CAP_SYS_NICE.
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(10))
    try:
        import uvloop  # the server's loop (uvicorn picks it when installed)
    except ImportError:  # pragma: no cover - uvloop is a dependency
        asyncio.run(serve(mode, tracks, directory, bitrate))
    else:
        uvloop.run(serve(mode, tracks, directory, bitrate))


# --- this process: sends the packets in real time -----------------------------------------------


def measure(
    mode: str, datagrams: list[tuple[float, bytes]], tracks: int, bitrate: int, realtime: bool
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as temp:
        command = [sys.executable, __file__, "--serve", mode, "--tracks", str(tracks)]
        command += ["--bitrate", str(bitrate)]
        command += ["--realtime"] if realtime else []
        with subprocess.Popen(
            [*command, "--dir", temp], stdout=subprocess.PIPE, text=True
        ) as child:
            assert child.stdout is not None
            port = json.loads(child.stdout.readline())["port"]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as out:
                out.connect(("127.0.0.1", port))
                began = time.perf_counter()
                for at, datagram in datagrams:
                    delay = began + at - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                    out.send(datagram)
                time.sleep(0.1)  # the last packets reach the recorder before it is told to stop
                for _ in range(3):  # loopback UDP: a lost datagram is unlikely, not impossible
                    with contextlib.suppress(ConnectionRefusedError):  # it stopped listening
                        out.send(_END)
                line = child.stdout.readline()
            child.wait(60)
    result: dict[str, Any] = json.loads(line)
    return result


def main(
    seconds: float, tracks: int, rounds: int, bitrate: int, realtime: bool, default_libvpx: bool
) -> None:
    print(f"encoding {seconds:.0f} s of camera-like 640x480 VP8 + Opus (not measured)…", flush=True)
    datagrams = make_input(seconds, bitrate)
    video = sum(len(d) for _, d in datagrams if d[1] & 0x7F == 96)
    print(
        f"{len(datagrams) / seconds:.0f} datagrams/s, video {video * 8 / seconds / 1000:.0f} kbit/s"
        f", {tracks} track set(s) recorded at once, {rounds} round(s)"
        + (", recorder processes SCHED_FIFO" if realtime else ""),
        flush=True,
    )
    modes = MODES if default_libvpx else MODES[:-1]
    results: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    for _ in range(rounds):
        for mode in modes:  # alternated, so the machine's load moves every mode alike
            results[mode].append(measure(mode, datagrams, tracks, bitrate, realtime))
    ratios = []
    for n in range(rounds):
        idle, copy, realtime_libvpx = (results[mode][n] for mode in MODES[:-1])
        default = results["aiortc"][n] if default_libvpx else None
        ratios.append(report(n, seconds, tracks, idle, copy, realtime_libvpx, default))
    if rounds > 1:
        print(
            f"\ncopy-mux / MediaRecorder (real-time libvpx) CPU, median of {rounds} rounds: "
            f"{median(ratios):.3f}x"
        )


def report(
    n: int,
    seconds: float,
    tracks: int,
    idle: dict[str, Any],
    copy: dict[str, Any],
    realtime: dict[str, Any],
    aiortc: dict[str, Any] | None,
) -> float:
    def net(result: dict[str, Any]) -> float:
        return float(result["cpu_s"] - idle["cpu_s"]) / seconds / tracks

    def threads(result: dict[str, Any]) -> str:
        loop = result["loop_cpu_s"] / seconds
        return f"{loop:.2%} + {result['cpu_s'] / seconds - loop:.2%}"

    def stall(result: dict[str, Any]) -> str:
        return (
            f"{result['worst_stall_s'] * 1000:.1f} ms / {result['p99_stall_s'] * 1000:.2f} ms"
            f" / {result['stalls_over_5ms']} of {result['ticks']}"
        )

    print()
    print(f"round {n + 1}:")
    print(
        "| recorder process | CPU per track set, net of receiving alone | process CPU: loop thread"
        " + other threads | loop lateness: worst / p99 / ticks > 5 ms | longest hand-over "
        "| pictures in the file |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    rows = [
        ("copy-mux (media/recording)", copy),
        ("aiortc MediaRecorder, libvpx real-time (+ receive-side decode)", realtime),
    ]
    if aiortc is not None:
        rows.append(("aiortc MediaRecorder, its default libvpx (+ receive-side decode)", aiortc))
    for name, result in rows:
        print(
            f"| {name} | {net(result):.2%} of a core | {threads(result)} | {stall(result)} "
            f"| {result['longest_handover_s'] * 1e6:.0f} µs | {result['pictures']} |"
        )
    print(f"| receiving alone (subtracted) | | {threads(idle)} | {stall(idle)} | | |")
    ratio = net(copy) / net(realtime)
    print(f"copy-mux / MediaRecorder (real-time libvpx) CPU: {ratio:.3f}x")
    if aiortc is not None:
        print(f"copy-mux / MediaRecorder (default libvpx) CPU: {net(copy) / net(aiortc):.3f}x")
    print(
        f"copy-mux worker threads' own CPU: {copy['worker_cpu_s'] / seconds / tracks:.2%} of a"
        f" core; dropped {copy['dropped']}; recorded {copy['duration_s']:.2f} s"
        f" (MediaRecorder {realtime['duration_s']:.2f} s); finalize"
        f" {copy['finalize_cpu_s']:.2f} s CPU"
    )
    return ratio


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--tracks", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--bitrate", type=int, default=1_200_000, help="video bits/s")
    parser.add_argument(
        "--realtime",
        action="store_true",
        help="run each recorder process SCHED_FIFO (root), to tell its own loop stalls from the"
        " machine's load",
    )
    parser.add_argument(
        "--default-libvpx",
        action="store_true",
        help="also measure MediaRecorder with its default libvpx settings (it falls behind: its"
        " backlog is encoded when it stops, which can take minutes)",
    )
    parser.add_argument("--serve", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve_main(args.serve, args.tracks, args.dir, args.bitrate, args.realtime)
    else:
        main(
            args.seconds, args.tracks, args.rounds, args.bitrate, args.realtime, args.default_libvpx
        )
