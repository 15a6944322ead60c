"""How uvicorn serves the app: one place, used by ``preceptor serve`` and by the tests."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable

import uvicorn
from starlette.applications import Starlette

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


class DrainingServer(uvicorn.Server):
    """uvicorn's server, which on SIGTERM (or SIGINT) first stops accepting connections, then
    runs ``drain`` before uvicorn closes the connections that are left and shuts the app down."""

    def __init__(self, config: uvicorn.Config, drain: Callable[[], Awaitable[None]]) -> None:
        super().__init__(config)
        self._drain = drain

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
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
