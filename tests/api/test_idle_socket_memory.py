"""What one idle signaling socket costs the server (issue 13: idle memory per socket at most
twice a bare `websockets` server's): measured inside a real `preceptor serve` process by
tracemalloc, through its debug hook (``PRECEPTOR_TRACEMALLOC_DIR`` + SIGUSR1, server/serving.py),
and the tasks an idle socket keeps."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import tracemalloc
from pathlib import Path

import pytest

from server.config import Config
from signaling import Chat, ChatPosted, Join, Welcome
from tests.faults.conftest import all_listening, make_cast, new_session, processes
from tests.rooms.client import SignalingClient, admit_guest, signaling
from tests.support import Scene, wait_for

SOCKETS = 40
# Python's own allocations per idle, joined signaling socket, all layers (uvicorn's protocol,
# the handshake, the app, the room's records). It was 44-45 KiB before the sockets skipped the
# HTTP middlewares and kept no asyncio queue, event or sender task while idle.
MAX_KIB_PER_SOCKET = 30.0


async def _snapshot(pid: int, directory: Path, number: int) -> tracemalloc.Snapshot:
    os.kill(pid, signal.SIGUSR1)
    path = directory / f"snapshot-{pid}-{number}.tracemalloc"

    async def written() -> bool:
        return path.exists()

    await wait_for(written, timeout=60, interval=0.1)
    return tracemalloc.Snapshot.load(str(path))


@pytest.mark.slow
@pytest.mark.timeout(180)
async def test_an_idle_signaling_socket_holds_little_memory(tmp_path: Path) -> None:
    config = Config(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/preceptor.db",
        secret_key="test-secret-key-0123456789",
    )
    cast = await make_cast(config, trainees=0)
    snapshots = tmp_path / "snapshots"
    with processes(
        config,
        1,
        PRECEPTOR_TRACEMALLOC_DIR=str(snapshots),
        PRECEPTOR_SOCKET_OPENS_PER_MIN=str(10 * SOCKETS),
    ) as [node]:
        await all_listening([node])
        mentor_http = await node.sign_in(cast.mentor)
        sessions = [await new_session(mentor_http, []) for _ in range(SOCKETS + 1)]
        async with contextlib.AsyncExitStack() as stack:

            async def joined(session_id: str) -> SignalingClient:
                client = await stack.enter_async_context(
                    signaling(node.server, session_id, mentor_http)
                )
                await client.send(Join())
                await client.expect(Welcome, timeout=20)
                return client

            # The first socket pays for what every later one shares (imports, caches).
            await joined(sessions[0])
            before = await _snapshot(node.process.pid, snapshots, 1)
            for session_id in sessions[1:]:
                await joined(session_id)
            after = await _snapshot(node.process.pid, snapshots, 2)
            grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
            per_socket_kib = grown / SOCKETS / 1024
            print(f"idle signaling socket: {per_socket_kib:.1f} KiB traced in the server")
            assert per_socket_kib <= MAX_KIB_PER_SOCKET, per_socket_kib
        await mentor_http.aclose()


def _senders() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("ws-sender-")]


async def test_an_idle_socket_keeps_no_sender_task(scene: Scene) -> None:
    """The sender task lives only while frames wait: the welcome and a relayed chat still
    arrive, and once they are out the idle sockets hold no task for sending."""
    async with (
        signaling(scene.server, scene.session_id, scene.mentor_http) as mentor,
        signaling(scene.server, scene.session_id, scene.guest_http) as guest,
    ):
        await mentor.send(Join())
        await mentor.expect(Welcome)
        await admit_guest(mentor, guest)
        await guest.send(Chat(text="can you hear me?"))
        assert (await mentor.expect(ChatPosted)).text == "can you hear me?"

        async def no_senders() -> bool:
            return not _senders()

        await wait_for(no_senders, timeout=5)
        await mentor.send(Chat(text="yes"))
        while (await guest.expect(ChatPosted)).text != "yes":
            pass  # its own chat, echoed to the whole room
        await wait_for(no_senders, timeout=5)
