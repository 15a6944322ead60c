"""One socket's outbound side (signaling and notes): a bounded queue drained by its own sender
task, so a phone that stops reading never delays anyone else (DESIGN.md §5, §6). The live hubs
see it as :class:`server.live.rooms.connection.SocketConnection`."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

from starlette.websockets import WebSocket

from signaling import ConnectionId
from signaling.close_codes import CLOSE_TRY_AGAIN

__all__ = ["CLOSE_TIMEOUT_S", "QueuedSocket"]

# How long a close frame may wait for a client that stopped reading to read again: a phone back
# from the background then finds the 1013 that says why, not a cut connection (issue 13). The
# socket counts as closed (the room, the metrics) from the moment the close is decided.
CLOSE_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class _CloseRequest:
    code: int
    reason: str


class QueuedSocket:
    def __init__(
        self,
        websocket: WebSocket,
        connection_id: ConnectionId,
        *,
        max_frames: int = 256,
        max_bytes: int = 1 << 20,
    ) -> None:
        self.id = connection_id
        self._websocket = websocket
        self._queue: asyncio.Queue[str | bytes | _CloseRequest] = asyncio.Queue(max_frames)
        self._max_bytes = max_bytes
        self._queued_bytes = 0
        self._closing = False
        self._aborted = False
        self._sender: asyncio.Task[None] | None = None
        self.close_code: int | None = None
        self.closed = asyncio.Event()
        """Set once the socket is to close (its frames may still be flushing)."""

    @property
    def closing(self) -> bool:
        return self._closing

    def send(self, frame: str | bytes) -> None:
        """Queue a frame (text or binary); never waits. A full queue means the client stopped
        reading: 1013."""
        if self._closing:
            return
        # Bounded in frames and in bytes: a few large offers must not pile up megabytes.
        if self._queued_bytes + len(frame) > self._max_bytes:
            self._abort(CLOSE_TRY_AGAIN, "too slow: stopped reading")
            return
        try:
            self._queue.put_nowait(frame)
        except asyncio.QueueFull:
            self._abort(CLOSE_TRY_AGAIN, "too slow: stopped reading")
            return
        self._queued_bytes += len(frame)

    def close(self, code: int, reason: str) -> None:
        """Close after the frames already queued (a `welcome` before a 4409, say)."""
        if self._closing:
            return
        self._closing = True
        self.closed.set()
        self.close_code = code
        try:
            self._queue.put_nowait(_CloseRequest(code, reason))
        except asyncio.QueueFull:
            self._abort(code, reason)

    def _abort(self, code: int, reason: str) -> None:
        # Drop what is queued: the client will not read it anyway. The sender is most likely
        # stuck in a send the client will never drain; interrupt it.
        self._closing = True
        self.closed.set()
        self._aborted = True
        self.close_code = code
        while not self._queue.empty():
            self._queue.get_nowait()
        self._queued_bytes = 0
        self._queue.put_nowait(_CloseRequest(code, reason))
        if self._sender is not None:
            self._sender.cancel()

    def start(self) -> asyncio.Task[None]:
        """Start the sender task; it ends once the socket is closed from our side."""
        self._sender = asyncio.create_task(self._send_forever(), name=f"ws-sender-{self.id}")
        return self._sender

    async def _send_forever(self) -> None:
        while True:
            try:
                item = await self._queue.get()
                if isinstance(item, _CloseRequest):
                    await self._close_socket(item)
                    return
                self._queued_bytes -= len(item)
                if isinstance(item, str):
                    await self._websocket.send_text(item)
                else:
                    await self._websocket.send_bytes(item)
            except asyncio.CancelledError:
                if not self._aborted:
                    raise
                self._aborted = False  # the close request is next in the queue
            except Exception:
                # The peer is gone; the reader notices the disconnect and cleans up.
                self._closing = True
                self.closed.set()
                return

    async def _close_socket(self, request: _CloseRequest) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await self._websocket.close(request.code, request.reason)
