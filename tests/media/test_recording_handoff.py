"""How the recorder takes packets off the event loop (issue 12: "cost almost no CPU", no loop
stall): the loop only queues them; the recorder's worker thread takes them a batch at a time, so
it does not wake up (a thread switch, and a contest for the GIL with the event loop) for each
packet, and what it is given still ends up in the file."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from media.recording import Keyring, Recorder, finalize
from tests.media.rtp_source import Source

KEY = bytes(range(32))


class _NoKeyframes:
    def request_keyframe(self) -> None:
        pass

    def close(self) -> None:
        pass


def _voluntary_switches(thread_id: int) -> int:
    """How often a thread of this process gave up the CPU to wait (Linux's per-task count)."""
    status = Path(f"/proc/self/task/{thread_id}/status").read_text()
    line = next(x for x in status.splitlines() if x.startswith("voluntary_ctxt_switches"))
    return int(line.split()[1])


@pytest.mark.timeout(60)
async def test_the_recorder_thread_wakes_per_batch_not_per_packet(tmp_path: Path) -> None:
    packets = list(Source(3.0).packets())
    keyring = Keyring([KEY])
    recorder = Recorder(tmp_path / "a.live", keyring, video_codec="VP8", kinds={"audio", "video"})
    recorder.start(_NoKeyframes())
    assert recorder._thread.native_id is not None
    worker = recorder._thread.native_id
    before = _voluntary_switches(worker)
    began = time.monotonic()
    fed = 0
    for sent in packets:  # in real time, as a publisher sends them
        await asyncio.sleep(max(0.0, began + sent.at - time.monotonic()))
        if sent.header is not None:
            recorder.rtp(sent.kind, sent.header)
            fed += 1
        elif sent.report is not None:
            recorder.sender_report(sent.kind, *sent.report)
    await asyncio.sleep(0.2)  # the worker's last batch
    wakes = _voluntary_switches(worker) - before
    outcome = await recorder.stop()

    # One wake-up per packet before (~220 here); now ~one per 0.1 s batch (~30).
    assert fed >= 200
    assert wakes < fed / 3, (wakes, fed)
    assert outcome.started
    assert outcome.dropped == 0
    assert outcome.problem is None
    finished = await asyncio.to_thread(finalize, tmp_path / "a.live", tmp_path / "a.webm", keyring)
    assert abs(finished.duration_s - 3.0) <= 0.2
