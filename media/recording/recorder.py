"""A recorder: one publisher's packets in (from `MediaRouter.tap`), a sealed live file out.

    recorder = Recorder(path, keyring, video_codec="VP8", kinds={"audio", "video"})
    recorder.start(router.tap(room, member, recorder))
    ...
    outcome = await recorder.stop()      # then `finalize` (in a thread) makes it seekable

The event loop only appends each packet to a deque (bounded: if the worker falls behind, packets
are dropped and the video waits for the next keyframe): no lock, no wake-up. The recorder's own
worker thread takes what has accumulated every `_BATCH_S` and does the depayloading, muxing,
encryption and file I/O, so it wakes ~10 times a second instead of once a packet (each wake-up
was a thread switch and a contest for the GIL with the event loop), and holds the GIL for one
batch (~0.1 s of media, well under a millisecond of work) at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from media.packets import RtpHeader
from media.recording.frames import Frame, FrameAssembler, Timeline, vp8_size
from media.recording.muxer import LiveFile
from media.recording.sealed import Keyring

__all__ = ["Outcome", "Recorder"]

log = logging.getLogger("preceptor.media.recording")

_QUEUE_PACKETS = 4096  # ~20 s of one 640x480 VP8 + Opus publisher
_KEYFRAME_EVERY_S = 0.5
_BATCH_S = 0.1  # how often the worker takes the packets queued on the loop (≤ 0.1 s more loss
# on a crash, on top of the live file's ~1 s clusters)


class KeyframeSource(Protocol):
    def request_keyframe(self) -> None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Outcome:
    started: bool  # a first frame was written (else there is no file)
    duration_s: float
    dropped: int  # packets the worker could not take in time
    problem: str | None  # why it stopped early (a full disk), for the mentor
    started_at: float | None = None  # the file's zero (wall clock), corrected: see `_zero`


class Recorder:
    def __init__(
        self,
        path: Path,
        keyring: Keyring,
        *,
        video_codec: str,
        kinds: set[str],
        on_problem: Callable[[str], None] | None = None,
        on_start: Callable[[float], None] | None = None,
        on_zero: Callable[[float], None] | None = None,
    ) -> None:
        """`on_problem(text)`: it stopped on its own (a full disk). `on_start(at)`: its first
        keyframe was written; `at` (wall clock) is the file's zero. `on_zero(at)`: the zero as
        the frames since corrected it (see `_zero`), once that is final, told during the
        recording so that one a crash cuts short keeps it too. All run on the loop."""
        self.path = path
        self._keyring = keyring
        self._codec = video_codec.upper()
        self._kinds = kinds
        self._on_problem = on_problem
        self._on_start = on_start
        self._on_zero = on_zero
        self._zero_told = False
        self.started_at: float | None = None  # wall clock of the file's zero, once written
        # Appended on the loop, popped by the worker: deque's append and popleft are atomic.
        self._pending: deque[tuple[Any, ...]] = deque()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._work, name="recorder", daemon=True)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._source: KeyframeSource | None = None
        self.dropped = 0
        self.cpu_s = 0.0
        self._file: LiveFile | None = None
        self._problem: str | None = None
        self._last_request = -1e9
        self._timeline = Timeline()  # the worker's; read on the loop once it has stopped
        self._zero_kind = "video" if "video" in kinds else "audio"  # what the file starts at

    # --- on the event loop ----------------------------------------------------------------

    def start(self, source: KeyframeSource) -> None:
        self._loop = asyncio.get_running_loop()
        self._source = source
        self._thread.start()
        source.request_keyframe()

    def rtp(self, kind: str, header: RtpHeader) -> None:
        self._put(
            (kind, header.ssrc, header.sequence, header.timestamp, header.payload, time.time())
        )

    def sender_report(self, kind: str, ntp_timestamp: int, rtp_timestamp: int) -> None:
        self._put((kind, ntp_timestamp, rtp_timestamp))

    def _put(self, item: tuple[Any, ...]) -> None:
        if self._problem is not None:
            return  # stopped on its own (a full disk): its worker takes nothing more
        if len(self._pending) < _QUEUE_PACKETS:
            self._pending.append(item)
        else:
            self.dropped += 1  # the gap shows as a loss: the video resumes at a keyframe

    async def stop(self) -> Outcome:
        if self._source is not None:
            self._source.close()
        # Set after the last packet was queued: the worker's next batch takes them all.
        self._stopping.set()
        if self._thread.is_alive():
            await asyncio.to_thread(self._thread.join)
        file = self._file
        return Outcome(
            file is not None,
            file.duration_s if file else 0.0,
            self.dropped,
            self._problem,
            self._zero(),
        )

    def _zero(self) -> float | None:
        """The file's zero on the wall clock. `on_start` told it as the first frame placed it;
        had that frame been held up on its way (a busy loop at the start: the keyframe just
        asked for is the largest picture), the frames since show by how much, and the marks
        would otherwise land that much early in the file."""
        if self.started_at is None:
            return None
        return self.started_at - self._timeline.late_by(self._zero_kind)

    @property
    def recorded_s(self) -> float:
        """Media written so far (read across threads: a float, good enough for progress)."""
        file = self._file
        return file.duration_s if file is not None else 0.0

    def _request_keyframe(self) -> None:
        if self._loop is not None and self._source is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed under us
                self._loop.call_soon_threadsafe(self._source.request_keyframe)

    # --- in the worker thread -------------------------------------------------------------

    def _work(self) -> None:
        assemblers = {
            k: FrameAssembler(k, "opus" if k == "audio" else self._codec) for k in self._kinds
        }
        ssrcs: dict[str, int] = {}
        timeline = self._timeline
        pending, take = self._pending, self._pending.popleft
        try:
            while True:
                stopping = self._stopping.wait(_BATCH_S)
                while pending:
                    item = take()
                    if len(item) == 3:
                        timeline.sender_report(*item)
                        continue
                    kind, ssrc, sequence, timestamp, payload, arrival = item
                    assembler = assemblers.get(kind)
                    if assembler is None:
                        continue
                    if ssrcs.setdefault(kind, ssrc) != ssrc:
                        # A new source (the publisher restarted its encoder): fresh numbering.
                        ssrcs[kind] = ssrc
                        assembler = assemblers[kind] = FrameAssembler(kind, assembler.codec)
                        timeline.restart(kind)
                    frames = assembler.add(sequence, timestamp, payload)
                    if assembler.needs_keyframe:
                        self._keyframe_wanted()
                    for frame in frames:
                        self._write(frame, timeline.seconds(frame, arrival), timeline)
                if stopping:
                    break
        except OSError as error:
            self._fail(f"The recording stopped: the server could not write it ({error.strerror}).")
        except Exception:
            log.exception("recorder failed")
            self._fail("The recording stopped because of a server error.")
        finally:
            if self._file is not None:
                with contextlib.suppress(Exception):
                    self._file.close()
            self.cpu_s = time.thread_time()  # the worker's own CPU (the benchmark reads it)

    def _keyframe_wanted(self) -> None:
        now = time.monotonic()
        if now - self._last_request >= _KEYFRAME_EVERY_S:
            self._last_request = now
            self._request_keyframe()

    def _write(self, frame: Frame, at: float, timeline: Timeline) -> None:
        if self._file is None:
            if not self._begin(frame):
                return
            timeline.start(at)
            # `at` is on the arrival clock (time.time()): where marks' session clock is.
            self.started_at = at
            self._call_soon(self._on_start, at)
        offset = timeline.relative(at)
        if offset is not None and offset >= 0 and self._file is not None:
            self._file.write(frame.kind, frame.data, offset, frame.keyframe)
        if not self._zero_told and timeline.settled(self._zero_kind):
            self._zero_told = True
            self._call_soon(self._on_zero, self._zero())

    def _begin(self, frame: Frame) -> bool:
        """The file starts at a video keyframe (or the first audio, if there is no video)."""
        video: tuple[str, int, int] | None = None
        if "video" in self._kinds:
            if frame.kind != "video" or not frame.keyframe:
                return False
            size = vp8_size(frame.data) if self._codec == "VP8" else (640, 480)
            if size is None:
                return False
            video = (self._codec, *size)
        self._file = LiveFile(self.path, self._keyring, video=video, audio="audio" in self._kinds)
        return True

    def _fail(self, problem: str) -> None:
        self._problem = problem
        self._call_soon(self._on_problem, problem)

    def _call_soon(self, callback: Callable[[Any], None] | None, argument: object) -> None:
        if self._loop is not None and callback is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed under us
                self._loop.call_soon_threadsafe(callback, argument)
