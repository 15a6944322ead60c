"""How uvicorn serves the app: one place, used by ``preceptor serve`` and by the tests."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any, cast

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

from server.infra.collector import Collector
from server.services import Services
from server.sockets.connection import Flag
from signaling.close_codes import CLOSE_RESTARTING

__all__ = ["DrainingServer", "LeanWebSocketProtocol", "drain", "uvicorn_config"]

log = logging.getLogger("preceptor.serving")

# Closing sockets and handing rooms over takes milliseconds; past this, uvicorn's own shutdown
# goes ahead anyway.
_DRAIN_TIMEOUT_S = 10.0


def uvicorn_config(app: Starlette, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        # Compression costs most of the memory and tail latency of small signaling frames
        # (DESIGN.md §5).
        ws_per_message_deflate=False,
        ws=LeanWebSocketProtocol,
        # uvicorn refuses larger frames with 1009. Each socket enforces its own, smaller limit
        # (signaling 64 KiB, notes 512 KiB) with the same close code.
        ws_max_size=1 << 20,
        # A path that died silently is noticed in <= 13 s (issue 13: ghosts stayed 70 s).
        ws_ping_interval=5.0,
        ws_ping_timeout=8.0,
        access_log=False,
        log_config=None,
        proxy_headers=False,
        lifespan="on",
        # Said, not guessed: the app in front (_DrainGate) is not itself a coroutine function.
        interface="asgi3",
    )


class _Inbox:
    """The part of ``asyncio.Queue`` uvicorn's WebSocket protocol uses (``put_nowait``,
    ``get``, ``empty``; unbounded), without the three deques and the event each queue
    allocates (~3 KiB). It holds an event or two at most: uvicorn stops reading the socket
    while one waits."""

    __slots__ = ("_getters", "_items")

    def __init__(self) -> None:
        self._items: list[Any] = []
        self._getters: list[asyncio.Future[None]] | None = None

    def empty(self) -> bool:
        return not self._items

    def put_nowait(self, item: Any) -> None:
        self._items.append(item)
        self._wake_one()

    def _wake_one(self) -> None:
        while self._getters:
            getter = self._getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                return

    async def get(self) -> Any:
        while not self._items:
            getter = asyncio.get_running_loop().create_future()
            if self._getters is None:
                self._getters = []
            self._getters.append(getter)
            try:
                await getter
            except asyncio.CancelledError:
                if getter in self._getters:
                    self._getters.remove(getter)
                elif self._items:
                    self._wake_one()  # it was woken for an item it will not take: pass it on
                raise
        return self._items.pop(0)


class LeanWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol (the sans-I/O ``websockets`` one, uvicorn's default since
    0.35), holding less for an open socket's life (issue 13: idle memory per socket): a lighter
    inbox and writable flag, no handshake response once it is sent, and no request headers
    once the scope has them. The attributes replaced are uvicorn's;
    tests/unit/test_lean_websockets.py checks they are still what uvicorn uses."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.queue = cast("asyncio.Queue[Any]", _Inbox())
        writable = Flag()
        writable.set()
        self.writable = cast(asyncio.Event, writable)

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        # The scope has its own copy of the headers. The request stays referenced by the
        # websockets parser for the socket's life; its headers need not.
        event.headers.clear()
        del self.request

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept" and self.handshake_complete:
            # Sent; uvicorn reads it only before the handshake completes.
            del self.response


async def drain(services: Services) -> None:
    """Make way for the other nodes (issue 13, graceful drain): give up the rooms this node runs
    and tell every member to reconnect (1012), so they land on a node that stays. Writes already
    under way finish: uvicorn waits for every socket's handler before the app shuts down, and
    the notes' group commit writes what is queued before it stops."""
    await services.rooms.drain(CLOSE_RESTARTING, "restarting")


class _DrainGate:
    """In front of the app while the node drains. Closing the listener stops new connections,
    not new requests on connections a browser kept alive: a socket opened that way would join
    (and claim) a room on the node that is going away. It is told to reconnect (1012), to a node
    that stays; a plain request is answered with ``Connection: close``, so the next goes
    elsewhere."""

    def __init__(self, app: ASGIApp, draining: Callable[[], bool]) -> None:
        self._app = app
        self._draining = draining

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # Not a coroutine itself: it returns the app's, so no frame of its own stays under
        # each open socket (issue 13: idle memory per socket).
        if not self._draining() or scope["type"] == "lifespan":
            return self._app(scope, receive, send)
        if scope["type"] == "websocket":
            return self._reconnect_elsewhere(receive, send)
        return self._last_request(scope, receive, send)

    @staticmethod
    async def _reconnect_elsewhere(receive: Receive, send: Send) -> None:
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": CLOSE_RESTARTING, "reason": "restarting"})

    async def _last_request(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"connection"]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self._app(scope, receive, closing)


def _trace_memory_on_request(directory: str | None) -> None:
    """A debugging aid, off unless ``PRECEPTOR_TRACEMALLOC_DIR`` is set: each SIGUSR1 writes a
    snapshot of the allocations traced (10 frames deep) since the first SIGUSR1 to that
    directory, to diff offline (``tracemalloc.Snapshot.load``) when memory grows (issue 13)."""
    if not directory:
        return
    os.makedirs(directory, exist_ok=True)
    taken = 0

    def dump() -> None:
        nonlocal taken
        if not tracemalloc.is_tracing():
            tracemalloc.start(10)  # from now on: tracing slows every allocation down
        taken += 1
        path = os.path.join(directory, f"snapshot-{os.getpid()}-{taken}.tracemalloc")
        tracemalloc.take_snapshot().dump(path + ".part")
        os.replace(path + ".part", path)  # whole, once it has its name
        log.warning("tracemalloc snapshot written", extra={"path": path})

    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, dump)


class DrainingServer(uvicorn.Server):
    """uvicorn's server, which on SIGTERM (or SIGINT) first stops accepting connections, then
    runs ``drain`` before uvicorn closes the connections that are left and shuts the app down."""

    def __init__(self, config: uvicorn.Config, drain: Callable[[], Awaitable[None]]) -> None:
        config.app = _DrainGate(cast(ASGIApp, config.app), lambda: self.draining)
        super().__init__(config)
        self._drain = drain
        self.draining = False
        self._collector = Collector()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # Process-wide, so here at the process's entry point, not in the app (a test process
        # builds many apps): full collections walk what is new, not the whole node.
        self._collector.start(asyncio.get_running_loop())
        _trace_memory_on_request(os.environ.get("PRECEPTOR_TRACEMALLOC_DIR"))

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.draining = True
        for server in self.servers:
            server.close()
        try:
            async with asyncio.timeout(_DRAIN_TIMEOUT_S):
                await self._drain()
        except Exception as exc:
            log.warning(
                "draining failed; shutting down anyway", extra={"error": type(exc).__name__}
            )
        await super().shutdown(sockets)
        self._collector.stop()
