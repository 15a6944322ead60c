"""Recording benchmark (issue 12): CPU per recorded 640x480 VP8 + Opus track set with the
copy-mux recorder (media/recording: depayload, mux, seal — no decode, no encode), beside aiortc's
`MediaRecorder` fed the same packets the way a server would have to feed it (aiortc's jitter
buffer and decoder thread, then MediaRecorder re-encoding into WebM), in the same run.

The input is real RTP made once, before measuring, by aiortc's own encoders (a noisy 640x480
picture at 30 fps, so the encoder runs at a camera's bitrate; 20 ms Opus). Each recorder is fed
it in real time; the figures are the process's CPU time (every thread) minus that of feeding
the same packets to a sink that does nothing, and the event loop's worst stall (a 1 ms ticker).

    .venv/bin/python bench/recording.py [--seconds 20] [--tracks 1]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import queue
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiortc import MediaStreamTrack
from aiortc.codecs import depayload
from aiortc.contrib.media import MediaRecorder
from aiortc.jitterbuffer import JitterBuffer
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import decoder_worker
from aiortc.rtp import RtpPacket

from media.packets import RtpHeader
from media.recording import Keyring, Recorder, finalize
from tests.media.rtp_source import Sent, Source

VP8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)


class Ticker:
    """The event loop's worst lateness: a task that asks to wake every millisecond."""

    def __init__(self) -> None:
        self.worst = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            asked = time.perf_counter()
            await asyncio.sleep(0.001)
            self.worst = max(self.worst, time.perf_counter() - asked - 0.001)

    def __enter__(self) -> Ticker:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def feed(packets: list[Sent], sinks: list[Callable[[Sent], None]]) -> float:
    """Every packet at its time, to every sink (one per recorded track set); returns the
    longest a sink held the event loop for one packet."""
    began = time.monotonic()
    longest = 0.0
    for sent in packets:
        delay = began + sent.at - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        for sink in sinks:
            called = time.perf_counter()
            sink(sent)
            longest = max(longest, time.perf_counter() - called)
    return longest


async def measured(
    packets: list[Sent], start: Callable[[], Any], stop: Callable[[Any], Any]
) -> tuple[float, float, float]:
    """CPU seconds (all threads), the worst loop stall, and the longest one packet's hand-over
    took on the loop, while recording `packets`."""
    state = await start()
    cpu = time.process_time()
    with Ticker() as ticker:
        longest = await feed(packets, state["sinks"])
        await stop(state)
    return time.process_time() - cpu, ticker.worst, longest


# --- the copy-mux recorder --------------------------------------------------------------------


class _NoKeyframes:
    def request_keyframe(self) -> None:
        pass

    def close(self) -> None:
        pass


def copy_mux(directory: Path, tracks: int, keyring: Keyring) -> tuple[Any, Any]:
    async def start() -> dict[str, Any]:
        recorders = []
        for n in range(tracks):
            recorder = Recorder(
                directory / f"copy-{n}.live", keyring, video_codec="VP8", kinds={"audio", "video"}
            )
            recorder.start(_NoKeyframes())
            recorders.append(recorder)

        def sink_for(recorder: Recorder) -> Callable[[Sent], None]:
            def sink(sent: Sent) -> None:
                if sent.header is not None:
                    recorder.rtp(sent.kind, sent.header)
                elif sent.report is not None:
                    recorder.sender_report(sent.kind, *sent.report)

            return sink

        return {"recorders": recorders, "sinks": [sink_for(r) for r in recorders]}

    async def stop(state: dict[str, Any]) -> None:
        for recorder in state["recorders"]:
            await recorder.stop()
        worker_cpu.append(sum(r.cpu_s for r in state["recorders"]))

    return start, stop


worker_cpu: list[float] = []  # the copy-mux workers' own thread CPU, a cross-check


# --- aiortc's MediaRecorder, fed as a server would have to feed it ------------------------------


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


def media_recorder(directory: Path, tracks: int) -> tuple[Any, Any]:
    async def start() -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        recorders, receivers, sinks = [], [], []
        for n in range(tracks):
            pair = {"audio": _Receiver("audio", loop), "video": _Receiver("video", loop)}
            recorder = MediaRecorder(str(directory / f"aiortc-{n}.webm"))
            recorder.addTrack(pair["audio"].track)
            recorder.addTrack(pair["video"].track)
            await recorder.start()
            recorders.append(recorder)
            receivers.append(pair)

            def sink(sent: Sent, pair: dict[str, _Receiver] = pair) -> None:
                if sent.header is not None:
                    pair[sent.kind].packet(sent.header)

            sinks.append(sink)
        return {"recorders": recorders, "receivers": receivers, "sinks": sinks}

    async def stop(state: dict[str, Any]) -> None:
        for pair in state["receivers"]:
            for receiver in pair.values():
                receiver.input.put(None)
        for pair in state["receivers"]:
            for receiver in pair.values():
                await asyncio.to_thread(receiver.thread.join)
        # Let MediaRecorder take what was decoded, as a live one would have.
        await asyncio.sleep(0.2)
        for recorder in state["recorders"]:
            with contextlib.suppress(Exception):
                await recorder.stop()

    return start, stop


def nothing(tracks: int) -> tuple[Any, Any]:
    async def start() -> dict[str, Any]:
        return {"sinks": [lambda sent: None for _ in range(tracks)]}

    async def stop(state: dict[str, Any]) -> None:
        pass

    return start, stop


async def main(seconds: float, tracks: int) -> None:
    print(f"encoding {seconds:.0f} s of 640x480 VP8 + Opus RTP (not measured)…", flush=True)
    packets = list(Source(seconds, 640, 480, noise=True).packets())
    video = sum(1 for p in packets if p.header is not None and p.kind == "video")
    print(f"{video / seconds:.0f} video packets/s, {tracks} track set(s) recorded at once")
    keyring = Keyring([bytes(32)])
    with tempfile.TemporaryDirectory() as temp:
        directory = Path(temp)
        idle_cpu, idle_stall, _ = await measured(packets, *nothing(tracks))
        copy_cpu, copy_stall, copy_call = await measured(
            packets, *copy_mux(directory, tracks, keyring)
        )
        started = time.process_time()
        await asyncio.to_thread(
            finalize, directory / "copy-0.live", directory / "copy-0.webm", keyring
        )
        finalize_cpu = time.process_time() - started
        aiortc_cpu, aiortc_stall, aiortc_call = await measured(
            packets, *media_recorder(directory, tracks)
        )
    per_track = {
        "copy": (copy_cpu - idle_cpu) / seconds / tracks,
        "aiortc": (aiortc_cpu - idle_cpu) / seconds / tracks,
    }
    print()
    print("| recorder | CPU per recorded track set | worst loop stall | longest packet hand-over |")
    print("| --- | --- | --- | --- |")
    print(
        f"| copy-mux (media/recording) | {per_track['copy']:.1%} of a core "
        f"| {copy_stall * 1000:.1f} ms | {copy_call * 1e6:.0f} µs |"
    )
    print(
        f"| aiortc MediaRecorder (+ receive-side decode) | {per_track['aiortc']:.1%} of a core "
        f"| {aiortc_stall * 1000:.1f} ms | {aiortc_call * 1e6:.0f} µs |"
    )
    idle = f"{idle_cpu / seconds:.1%} | {idle_stall * 1000:.1f} ms"
    print(f"| feeding alone (subtracted above) | {idle} | |")
    print()
    print(f"copy-mux / MediaRecorder CPU: {per_track['copy'] / per_track['aiortc']:.3f}x")
    print(f"copy-mux worker threads' own CPU: {worker_cpu[0] / seconds / tracks:.2%} of a core")
    print(f"finalize (seekable WebM, one track set, in a worker thread): {finalize_cpu:.2f} s CPU")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--tracks", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.tracks))
