"""SQLite killed mid-write (issue 13): ``preceptor serve`` on a SQLite file is SIGKILLed three times
while a mentor types notes and chats. Each time the file passes ``PRAGMA integrity_check`` and
holds every write anyone saw acknowledged (a notes update relayed to another member, a chat
message relayed back to its sender): both are stored before they are relayed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
from pathlib import Path

import pytest

from signaling import Chat, ChatPosted, Join, Welcome
from tests.notes.conftest import admitted_scene
from tests.notes.pyclient import yclient
from tests.rooms.client import signaling
from tests.support import (
    RunningServer,
    Scene,
    free_port,
    serve_process,
    wait_for,
    wait_listening,
)

ROUNDS = 3


def _integrity(path: Path) -> str:
    with contextlib.closing(sqlite3.connect(path)) as connection:
        result: str = connection.execute("PRAGMA integrity_check").fetchone()[0]
    return result


async def _write_until_killed(
    server: RunningServer, scene: Scene, stored_text: str, chats_seen: set[str], label: str
) -> str:
    """One ``preceptor serve`` on the shared file, written to until SIGKILL; what the watcher
    saw relayed by then."""
    port = free_port()
    with serve_process(server.config, port) as process:
        await wait_listening(port)
        node = RunningServer(f"http://127.0.0.1:{port}", server.config, server.app)
        async with (
            yclient(node, scene.session_id, scene.mentor_http) as typist,
            yclient(node, scene.session_id, scene.guest_http) as watcher,
            signaling(node, scene.session_id, scene.mentor_http) as mentor,
        ):
            assert str(watcher.text) == stored_text
            await mentor.send(Join())
            await mentor.expect(Welcome)

            async def type_forever() -> None:
                for i in range(100_000):
                    await typist.type(f"{i % 10}")
                    await asyncio.sleep(0.003)

            async def chat_forever() -> None:
                for i in range(100_000):
                    await mentor.send(Chat(text=f"{label} message {i}"))
                    await asyncio.sleep(0.08)  # under the socket's 20 messages a second

            async def collect_chats() -> None:
                while True:
                    chats_seen.add((await mentor.expect(ChatPosted, timeout=30)).id)

            writers = [
                asyncio.create_task(type_forever()),
                asyncio.create_task(chat_forever()),
                asyncio.create_task(collect_chats()),
            ]
            chats_before = len(chats_seen)

            async def busy() -> bool:
                grown = len(str(watcher.text)) >= len(stored_text) + 150
                return grown and len(chats_seen) >= chats_before + 5

            await wait_for(busy, timeout=30)
            os.kill(process.pid, signal.SIGKILL)
            await asyncio.to_thread(process.wait, 10)
            seen = str(watcher.text)
            for task in writers:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
    return seen


@pytest.mark.timeout(120)
async def test_kill_9_mid_write_keeps_the_file_whole_and_every_acknowledged_write(
    server: RunningServer,
) -> None:
    scene = await admitted_scene(server)
    database = Path(server.config.database_url.split("///", 1)[1])
    stored = ""
    chats_seen: set[str] = set()
    for round_ in range(ROUNDS):
        seen = await _write_until_killed(server, scene, stored, chats_seen, f"round {round_}")
        assert await asyncio.to_thread(_integrity, database) == "ok"
        # The in-process server reads the same file.
        stored = await server.services.notes.text(scene.session_id)
        assert stored.startswith(seen), (round_, len(stored), len(seen))
        kept = await server.services.store.chat.by_ids(scene.session_id, chats_seen)
        assert set(kept) == chats_seen, f"lost chat messages: {chats_seen - set(kept)}"
    print(f"\n{ROUNDS} kills: {len(stored)} characters and {len(chats_seen)} chats kept")
