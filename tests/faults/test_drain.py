"""Graceful drain (issue 13): SIGTERM to one of two nodes tells every member of the rooms it runs,
on either node, to reconnect now (1012); they land on the node that stays and find each other
there, every notes update anyone saw is stored, and the process exits cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from pathlib import Path

import pytest

from signaling import Join, PeerJoined, Welcome
from signaling.close_codes import CLOSE_RESTARTING
from tests.notes.pyclient import yclient
from tests.rooms.client import admit_guest, signaling
from tests.support import (
    RunningServer,
    free_port,
    make_scene,
    multi_node_config,
    postgres_database,
    running_server,
    serve_process,
    wait_for,
    wait_listening,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(90)]


async def test_sigterm_moves_a_two_node_room_to_the_node_that_stays(tmp_path: Path) -> None:
    async with postgres_database() as url:
        config = multi_node_config(tmp_path, url)
        async with running_server(config) as setup:
            scene = await make_scene(setup)
            port_a, port_b = free_port(), free_port()
            with serve_process(config, port_a) as process_a, serve_process(config, port_b):
                await wait_listening(port_a)
                await wait_listening(port_b)
                node_a = RunningServer(f"http://127.0.0.1:{port_a}", config, setup.app)
                node_b = RunningServer(f"http://127.0.0.1:{port_b}", config, setup.app)
                async with (
                    # The mentor joins first, through A: A runs the room.
                    signaling(node_a, scene.session_id, scene.mentor_http) as mentor,
                    signaling(node_b, scene.session_id, scene.guest_http) as guest,
                    yclient(node_a, scene.session_id, scene.mentor_http) as typist,
                    yclient(node_b, scene.session_id, scene.mentor_http) as watcher,
                ):
                    await mentor.send(Join())
                    welcome = await mentor.expect(Welcome)
                    _, guest_welcome = await admit_guest(mentor, guest)

                    async def type_forever() -> None:
                        for i in range(100_000):
                            await typist.type(f"{i % 10}")
                            await asyncio.sleep(0.005)

                    typing = asyncio.create_task(type_forever())

                    async def watcher_saw_some() -> bool:
                        return len(str(watcher.text)) >= 50

                    await wait_for(watcher_saw_some, timeout=20)
                    os.kill(process_a.pid, signal.SIGTERM)
                    started = time.monotonic()
                    # Both members hear "reconnect now", the guest on B too: it was silence.
                    assert await mentor.closed() == CLOSE_RESTARTING
                    assert await guest.closed() == CLOSE_RESTARTING
                    assert await typist.closed() == CLOSE_RESTARTING
                    typing.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await typing
                    async with (
                        signaling(node_b, scene.session_id, scene.mentor_http) as mentor2,
                        signaling(node_b, scene.session_id, scene.guest_http) as guest2,
                    ):
                        await mentor2.send(Join(resume=welcome.resume))
                        await mentor2.expect(Welcome)
                        await guest2.send(Join(resume=guest_welcome.resume))
                        await guest2.expect(Welcome)
                        joined = await mentor2.expect(PeerJoined)
                        assert joined.peer.display_name == guest_welcome.display_name
                        healed = time.monotonic() - started
                    # uvicorn re-raises the signal once it has shut down, as a service manager
                    # expects (systemd counts an exit by SIGTERM as clean).
                    await asyncio.to_thread(process_a.wait, 15)
                    assert process_a.returncode in (0, -signal.SIGTERM)
                    # Everything the watcher saw relayed is stored.
                    seen = str(watcher.text)
                    async with yclient(node_b, scene.session_id, scene.mentor_http) as reader:
                        assert str(reader.text).startswith(seen)
            print(f"\nroom back on the other node {healed:.2f} s after SIGTERM")
            assert healed < 5
        await scene.mentor_http.aclose()
        await scene.guest_http.aclose()
