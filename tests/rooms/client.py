"""A signaling client for tests: a real WebSocket to the real server, typed messages out and in."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TypeVar

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from signaling import (
    Admit,
    ClientMessage,
    Join,
    Lobby,
    ServerMessage,
    Waiting,
    Welcome,
    parse_server_message,
    serialize,
)
from tests.support import RunningServer, Scene

M = TypeVar("M")


@dataclass
class SignalingClient:
    ws: ClientConnection
    received: list[ServerMessage] = field(default_factory=list)

    async def send(self, message: ClientMessage) -> None:
        await self.ws.send(serialize(message))

    async def send_raw(self, frame: str | bytes) -> None:
        await self.ws.send(frame)

    async def expect(self, kind: type[M], timeout: float = 5.0) -> M:
        """The next message of ``kind``, skipping others (kept in ``received``)."""
        async with asyncio.timeout(timeout):
            while True:
                message = parse_server_message(await self.ws.recv())
                self.received.append(message)
                if isinstance(message, kind):
                    return message

    async def closed(self, timeout: float = 5.0) -> int | None:
        """Wait for the server to close; the close code."""
        async with asyncio.timeout(timeout):
            with contextlib.suppress(ConnectionClosed):
                while True:
                    self.received.append(parse_server_message(await self.ws.recv()))
        return self.ws.close_code

    async def close(self) -> None:
        await self.ws.close()


def cookie_header(client: httpx.AsyncClient) -> str:
    return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


@contextlib.asynccontextmanager
async def signaling(
    server: RunningServer,
    session_id: str,
    http: httpx.AsyncClient | None = None,
    *,
    origin: str | None = None,
    query: str = "",
    receive_buffer: int | None = None,
) -> AsyncIterator[SignalingClient]:
    """``receive_buffer`` pins the client's kernel receive buffer (no autotuning), to make a
    client that stops reading fill up quickly."""
    headers = {"Cookie": cookie_header(http)} if http is not None else {}
    url = server.url.replace("http://", "ws://") + f"/ws/sessions/{session_id}{query}"
    sock = None
    if receive_buffer is not None:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        sock.setblocking(False)
        host, port = server.url.removeprefix("http://").split(":")
        await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
    async with connect(
        url,
        sock=sock,
        origin=origin or server.url,  # type: ignore[arg-type]
        additional_headers=headers,
        compression=None,
        open_timeout=5,
        max_size=2**20,
        max_queue=1 if receive_buffer else 16,
    ) as ws:
        yield SignalingClient(ws)


async def admit_guest(
    mentor: SignalingClient, guest: SignalingClient, join: Join | None = None
) -> tuple[Waiting, Welcome]:
    """The guest joins, waits in the lobby, and the (already joined) mentor admits it."""
    await guest.send(join or Join())
    waiting = await guest.expect(Waiting)
    lobby = await mentor.expect(Lobby)
    while not lobby.waiting:
        lobby = await mentor.expect(Lobby)
    await mentor.send(Admit(peer=lobby.waiting[0].id))
    return waiting, await guest.expect(Welcome)


async def second_guest(scene: Scene, name: str = "Alex Learner") -> httpx.AsyncClient:
    """Another person invited to the scene's session, signed in through their own link."""
    invite = await scene.mentor_http.post(
        f"/api/sessions/{scene.session_id}/invites", json={"name": name}
    )
    assert invite.status_code == 201, invite.text
    guest = scene.server.client()
    redeemed = await guest.post(f"/api/invites/{invite.json()['token']}/redeem", json={})
    assert redeemed.status_code == 200, redeemed.text
    guest.headers["X-CSRF-Token"] = redeemed.json()["csrf_token"]
    return guest
