"""Two `preceptor serve` processes, joined by the machine's Redis and PostgreSQL: a mentor on
one and a trainee on the other go through the lobby and get each other's video (aiortc), then
write one notes document together."""

from __future__ import annotations

from pathlib import Path

import pytest

from signaling import Join, Welcome
from tests.notes.pyclient import yclient
from tests.rooms.client import signaling
from tests.rooms.media_peer import loopback_ice
from tests.rooms.test_call_aiortc import call
from tests.support import (
    RunningServer,
    free_port,
    make_scene,
    multi_node_config,
    postgres_database,
    running_server,
    serve_process,
    wait_listening,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(120)]


async def test_a_call_across_two_server_processes(tmp_path: Path) -> None:
    async with postgres_database() as url:
        config = multi_node_config(tmp_path, url)
        # An in-process node only to set the scene up (accounts, session, invite).
        async with running_server(config) as setup:
            scene = await make_scene(setup)
        port_a, port_b = free_port(), free_port()
        origins = (f"http://127.0.0.1:{port_a}", f"http://127.0.0.1:{port_b}")
        with serve_process(config, port_a), serve_process(config, port_b):
            await wait_listening(port_a)
            await wait_listening(port_b)
            node_a = RunningServer(origins[0], config, setup.app)
            node_b = RunningServer(origins[1], config, setup.app)
            with loopback_ice():
                async with (
                    signaling(node_a, scene.session_id, scene.mentor_http) as mentor,
                    signaling(node_b, scene.session_id, scene.guest_http) as guest,
                ):
                    await mentor.send(Join())
                    await mentor.expect(Welcome)
                    await call(mentor, guest)
            # The same two processes serve one notes document.
            async with (
                yclient(node_a, scene.session_id, scene.mentor_http) as notes_a,
                yclient(node_b, scene.session_id, scene.guest_http) as notes_b,
            ):
                await notes_a.type("typed on process A. ")
                await notes_b.wait_text("typed on process A. ")
                await notes_b.type("Typed on process B.")
                await notes_a.wait_text("typed on process A. Typed on process B.")
        await scene.mentor_http.aclose()
        await scene.guest_http.aclose()
