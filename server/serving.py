"""How uvicorn serves the app: one place, used by ``preceptor serve`` and by the tests."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
from collections.abc import Awaitable, Callable
from typing import cast

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.services import Services
from signaling.close_codes import CLOSE_RESTARTING

__all__ = ["DrainingServer", "drain", "uvicorn_config"]

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
    )


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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self._draining() or scope["type"] == "lifespan":
            await self._app(scope, receive, send)
        elif scope["type"] == "websocket":
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            await send(
                {"type": "websocket.close", "code": CLOSE_RESTARTING, "reason": "restarting"}
            )
        else:

            async def closing(message: Message) -> None:
                if message["type"] == "http.response.start":
                    headers = [(k, v) for k, v in message.get("headers", []) if k != b"connection"]
                    message = {**message, "headers": [*headers, (b"connection", b"close")]}
                await send(message)

            await self._app(scope, receive, closing)


class DrainingServer(uvicorn.Server):
    """uvicorn's server, which on SIGTERM (or SIGINT) first stops accepting connections, then
    runs ``drain`` before uvicorn closes the connections that are left and shuts the app down."""

    def __init__(self, config: uvicorn.Config, drain: Callable[[], Awaitable[None]]) -> None:
        config.app = _DrainGate(cast(ASGIApp, config.app), lambda: self.draining)
        super().__init__(config)
        self._drain = drain
        self.draining = False

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # What start-up built lives as long as the process: kept out of the collector's sight,
        # a full collection walks only newer objects (it was the p95 of a 500-session trainee's
        # progress: ~125 ms against ~70 ms frozen, bench/README.md). Process-wide, so here at
        # the process's entry point, not in the app (a test process builds many apps).
        gc.freeze()

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
