"""A notes reader that stops reading (a phone put in a pocket mid-session) is closed as too slow
and, once it reads again, finds the close frame that says why (1013), never a cut connection
(1006): the notes socket's close must wait for the client as signaling's does (issue 13)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from server.app import create_app
from server.config import Config
from server.infra.storage import Store, migrate
from server.serving import uvicorn_config
from session_notes import sync_step1_frame
from signaling.close_codes import CLOSE_POLICY, CLOSE_TRY_AGAIN
from tests.notes.conftest import admitted_scene
from tests.notes.pyclient import yclient
from tests.rooms.client import cookie_header
from tests.support import FAST_PASSWORDS, RunningServer, free_port, wait_for

pytestmark = pytest.mark.timeout(90)

# A long document (two pastes: an update is at most 256 KiB): each full sync a member asks for
# is this big.
PASTE = 200_000
ASKS = 40


@contextlib.asynccontextmanager
async def stalled_reader(
    server: RunningServer, session_id: str, cookie: str
) -> AsyncIterator[ClientConnection]:
    """A notes member whose kernel receive buffer is pinned small and who never reads on its
    own: the server's send to it stalls as soon as a few frames are in flight."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    port = int(server.url.rsplit(":", 1)[1])
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    url = server.url.replace("http://", "ws://") + f"/ws/notes/{session_id}"
    async with connect(
        url,
        sock=sock,
        origin=server.url,  # type: ignore[arg-type]
        additional_headers={"Cookie": cookie},
        compression=None,
        max_size=2**21,
        max_queue=1,
    ) as ws:
        await ws.send(sync_step1_frame(b"\x00"))
        yield ws


async def close_code(ws: ClientConnection, timeout: float) -> int | None:
    """Read everything queued for the client, then the close frame: its code."""
    async with asyncio.timeout(timeout):
        with contextlib.suppress(ConnectionClosed):
            while True:
                await ws.recv()
    return ws.close_code


def unsent_bytes(server: RunningServer, client: ClientConnection) -> int:
    """What the server's end of ``client``'s connection holds unacknowledged in its kernel send
    buffer (Linux /proc/net/tcp): it stops growing once the buffer is full and the server's
    send to this client is stuck."""
    server_end = f"0100007F:{int(server.url.rsplit(':', 1)[1]):04X}"
    client_end = f"0100007F:{client.local_address[1]:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if (fields[1], fields[2]) == (server_end, client_end):
            return int(fields[4].split(":")[0], 16)
    raise AssertionError("connection not found")


async def stall(server: RunningServer, pocket: ClientConnection) -> int:
    """Ask for the whole notes until the server's send to ``pocket`` is stuck (its kernel
    buffers full, a frame half-sent); how many asks it took."""
    for asks in range(1, 200):
        before = unsent_bytes(server, pocket)
        await pocket.send(sync_step1_frame(b"\x00"))

        async def grew(before: int = before) -> bool:
            return unsent_bytes(server, pocket) > before

        try:
            await wait_for(grew, timeout=1.0)
        except AssertionError:
            return asks  # this answer found no room: the sender waits for the client
    raise AssertionError("the server never stopped sending")


def notes_sockets(server: RunningServer) -> float:
    for line in server.services.metrics.render().decode().splitlines():
        if line.startswith('preceptor_websockets_open{endpoint="notes"}'):
            return float(line.split()[-1])
    raise AssertionError("gauge missing")


async def stored(server: RunningServer, session_id: str, length: int) -> None:
    """Wait until the typist's pastes are in the server's document: an update is applied once
    committed, and a reader that asked before that would be answered with an empty document
    (nothing to pile up; CI saw it, under load)."""

    async def in_document() -> bool:
        return len(await server.services.notes.text(session_id)) == length

    await wait_for(in_document, timeout=20)


async def counted(server: RunningServer, sockets: int) -> None:
    """Wait until the server counts the new reader: ``connect`` returns on the handshake,
    before the server's handler counts the socket, and a drop must not be read into a socket
    not yet counted."""

    async def all_counted() -> bool:
        return notes_sockets(server) == sockets

    await wait_for(all_counted, timeout=10)


async def test_a_notes_reader_that_stops_reading_gets_its_close_code(config: Config) -> None:
    async with without_keepalive(config) as server:
        await stops_reading(server)


async def stops_reading(server: RunningServer) -> None:
    scene = await admitted_scene(server)
    async with yclient(server, scene.session_id, scene.mentor_http) as typist:
        for _ in range(2):
            await typist.type("x" * PASTE)
        await stored(server, scene.session_id, 2 * PASTE)
        async with stalled_reader(
            server, scene.session_id, cookie_header(scene.guest_http)
        ) as pocket:
            await counted(server, sockets=2)
            # The phone asks for the whole notes again and again (a client resyncing), and
            # reads none of the answers: they pile up in the kernel's buffers, then in the
            # socket's queue, until it overflows.
            for _ in range(ASKS):
                await pocket.send(sync_step1_frame(b"\x00"))

            async def reader_dropped() -> bool:
                return notes_sockets(server) == 1

            started = time.monotonic()
            await wait_for(reader_dropped, timeout=40, interval=0.05)
            dropped_after = time.monotonic() - started
            # The typist never noticed.
            await typist.type("!")
            async with yclient(server, scene.session_id, scene.mentor_http) as check:
                await check.wait_text("x" * 2 * PASTE + "!")
            # The phone comes out of the pocket a few seconds later and reads: what was queued
            # for it, then the close frame that says why.
            await asyncio.sleep(4)
            code = await close_code(pocket, timeout=30)
    print(f"\nnotes reader that stopped reading dropped after {dropped_after:.1f} s, close {code}")
    assert code == CLOSE_TRY_AGAIN
    await scene.mentor_http.aclose()
    await scene.guest_http.aclose()


@contextlib.asynccontextmanager
async def without_keepalive(config: Config) -> AsyncIterator[RunningServer]:
    """The app as served, but with uvicorn's keepalive ping slowed down: a client that does not
    read never answers it, and the keepalive would cut it (1006) ~13 s in, whatever the close
    frame did; this isolates how long the close frame waits."""
    store = Store.open(config.database_url, idle_timeout_s=1800, absolute_timeout_s=43200)
    await migrate(store.engine)
    await store.close()
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    config = replace(config, public_url=origin, allowed_origins=(origin,))
    app = create_app(config, passwords=FAST_PASSWORDS)
    served = uvicorn_config(app, "127.0.0.1", port)
    served.ws_ping_interval = 60.0
    server = uvicorn.Server(served)
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    await wait_for(started, timeout=10)
    try:
        yield RunningServer(origin, config, app)
    finally:
        server.should_exit = True
        await task


async def test_a_notes_reader_refused_while_its_answers_wait_gets_its_close_code(
    config: Config,
) -> None:
    """Refused (here, a text frame where y-websocket sends binary) while the server's send to it
    is stuck: the close frame waits behind what is queued for the client to read again."""
    async with without_keepalive(config) as server:
        scene = await admitted_scene(server)
        async with yclient(server, scene.session_id, scene.mentor_http) as typist:
            await typist.type("x" * 100_000)
            await stored(server, scene.session_id, 100_000)
            async with stalled_reader(
                server, scene.session_id, cookie_header(scene.guest_http)
            ) as pocket:
                await counted(server, sockets=2)
                asks = await stall(server, pocket)
                await pocket.send(sync_step1_frame(b"\x00"))  # one more answer waits in the queue
                await pocket.send("not y-websocket")
                # The phone comes back later than the 3 s the close used to be given.
                await asyncio.sleep(5)
                code = await close_code(pocket, timeout=30)
        print(f"\nrefused after {asks} asks had stalled it: close {code}")
        assert code == CLOSE_POLICY
        await scene.mentor_http.aclose()
        await scene.guest_http.aclose()
