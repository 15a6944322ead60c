"""Draining (issue 13): once SIGTERM has stopped the listener, a browser can still send a request
on an HTTP connection it kept alive. A socket opened that way must be told to reconnect (1012,
to a node that stays), never joined to a room on the node that is going away; a plain request
on it is answered, with ``Connection: close`` so that the next one goes elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from server.app import create_app
from server.config import Config
from server.infra.storage import Store, migrate
from server.serving import DrainingServer, drain, uvicorn_config
from signaling import Join, Waiting, Welcome, parse_server_message, serialize
from signaling.close_codes import CLOSE_RESTARTING
from tests.rooms.client import cookie_header, signaling
from tests.support import FAST_PASSWORDS, RunningServer, Scene, free_port, make_scene, wait_for

pytestmark = pytest.mark.timeout(60)


@contextlib.asynccontextmanager
async def draining_server(
    config: Config, hold: asyncio.Event
) -> AsyncIterator[tuple[RunningServer, DrainingServer]]:
    """`preceptor serve`'s server in this process, whose drain (the real one) then waits for
    ``hold``: the window in which the listener is closed and the node still runs."""
    store = Store.open(config.database_url, idle_timeout_s=1800, absolute_timeout_s=43200)
    await migrate(store.engine)
    await store.close()
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    config = replace(config, public_url=origin, allowed_origins=(origin,))
    app = create_app(config, passwords=FAST_PASSWORDS)

    async def held_drain() -> None:
        await drain(app.state.services)
        await hold.wait()

    server = DrainingServer(uvicorn_config(app, "127.0.0.1", port), held_drain)
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    await wait_for(started, timeout=10)
    try:
        yield RunningServer(origin, config, app), server
    finally:
        hold.set()
        server.should_exit = True
        await task


async def keep_alive(url: str) -> tuple[socket.socket, bytes]:
    """A connection that has had one answer and stays open for the next request."""
    port = int(url.rsplit(":", 1)[1])
    sock = socket.socket()
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    await loop.sock_sendall(sock, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    answer = b""
    while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
        answer += await loop.sock_recv(sock, 4096)
    return sock, answer


async def request(sock: socket.socket, path: str) -> bytes:
    loop = asyncio.get_running_loop()
    await loop.sock_sendall(sock, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    answer = b""
    async with asyncio.timeout(5):
        while chunk := await loop.sock_recv(sock, 4096):
            answer += chunk
    return answer


async def test_a_socket_opened_on_a_kept_alive_connection_during_the_drain_is_sent_elsewhere(
    config: Config, tmp_path: Path
) -> None:
    hold = asyncio.Event()
    async with draining_server(config, hold) as (running, server):
        scene: Scene = await make_scene(running)
        first, answer = await keep_alive(running.url)
        second, _ = await keep_alive(running.url)
        assert answer.startswith(b"HTTP/1.1 200")
        async with signaling(running, scene.session_id, scene.mentor_http) as mentor:
            await mentor.send(Join())
            await mentor.expect(Welcome)
            server.should_exit = True  # SIGTERM: the listener closes, the drain starts
            assert await mentor.closed(timeout=10) == CLOSE_RESTARTING
        # Still draining (held): the guest's page opens its socket on a connection it kept.
        url = running.url.replace("http://", "ws://") + f"/ws/sessions/{scene.session_id}"
        async with connect(
            url,
            sock=first,
            origin=running.url,  # type: ignore[arg-type]
            additional_headers={"Cookie": cookie_header(scene.guest_http)},
            compression=None,
            open_timeout=5,
        ) as guest:
            with contextlib.suppress(ConnectionClosed):
                await guest.send(serialize(Join()))
                async with asyncio.timeout(5):
                    while True:
                        message = parse_server_message(await guest.recv())
                        # Before: it knocked at a room on the node going away.
                        assert not isinstance(message, Waiting), message
            assert guest.close_code == CLOSE_RESTARTING
        # A plain request on the other kept connection is answered, and the connection closed.
        answer = await request(second, "/healthz")
        assert answer.startswith(b"HTTP/1.1 200"), answer
        assert b"connection: close" in answer.lower()
        hold.set()
    await scene.mentor_http.aclose()
    await scene.guest_http.aclose()
