"""One socket's outbound side (signaling and notes): a bounded queue drained by a sender task,
so a phone that stops reading never delays anyone else (DESIGN.md §5, §6). The live hubs see it
as :class:`server.live.rooms.connection.SocketConnection`.

Most sockets are idle most of the time, and an idle socket is what a node holds thousands of
(issue 13: idle memory per socket): the sender task runs only while there is something to send,
the queue exists only while it holds frames, and nothing here keeps an asyncio queue or event
(~4 KiB between them) for the socket's life."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from typing import NamedTuple

from starlette.websockets import WebSocket

from signaling import ConnectionId
from signaling.close_codes import CLOSE_TRY_AGAIN

__all__ = ["CLOSE_TIMEOUT_S", "Flag", "QueuedSocket"]

# How long a close frame may wait for a client that stopped reading to read again: a phone back
# from the background then finds the 1013 that says why, not a cut connection (issue 13). The
# socket counts as closed (the room, the metrics) from the moment the close is decided.
CLOSE_TIMEOUT_S = 20.0


class _CloseRequest(NamedTuple):
    code: int
    reason: str


class Flag:
    """``asyncio.Event`` (``set``, ``clear``, ``is_set``, ``wait``) without the deque each one
    allocates (760 bytes): a socket holds its flags for its whole life, mostly unawaited."""

    __slots__ = ("_set", "_waiters")

    def __init__(self) -> None:
        self._set = False
        self._waiters: list[asyncio.Future[None]] | None = None

    def is_set(self) -> bool:
        return self._set

    def set(self) -> None:
        if self._set:
            return
        self._set = True
        waiters, self._waiters = self._waiters, None
        for waiter in waiters or ():
            if not waiter.done():
                waiter.set_result(None)

    def clear(self) -> None:
        self._set = False

    def watch(self) -> asyncio.Future[None]:
        """A future done once the flag is set, for a callback to hang on (no task waits on
        it); cancel it once it is no longer wanted."""
        waiter = asyncio.get_running_loop().create_future()
        if self._set:
            waiter.set_result(None)
        else:
            if self._waiters is None:
                self._waiters = []
            self._waiters.append(waiter)
        return waiter

    async def wait(self) -> None:
        if self._set:
            return
        # One future per waiter: a waiter cancelled cancels only its own.
        waiter = asyncio.get_running_loop().create_future()
        if self._waiters is None:
            self._waiters = []
        self._waiters.append(waiter)
        try:
            await waiter
        finally:
            if self._waiters is not None and waiter in self._waiters:
                self._waiters.remove(waiter)


class QueuedSocket:
    __slots__ = (
        "_close_request",
        "_closing",
        "_done",
        "_finished",
        "_frames",
        "_interrupted",
        "_max_bytes",
        "_max_frames",
        "_queued_bytes",
        "_sender",
        "_sending",
        "_websocket",
        "close_code",
        "closed",
        "id",
    )

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
        self._frames: deque[str | bytes] | None = None  # only while frames wait
        self._max_frames = max_frames
        self._max_bytes = max_bytes
        self._queued_bytes = 0
        self._close_request: _CloseRequest | None = None
        self._closing = False
        self._sender: asyncio.Task[None] | None = None  # only while there is something to send
        self._sending = False
        self._interrupted = False
        self._finished = False
        self._done: asyncio.Future[None] | None = None
        self.close_code: int | None = None
        self.closed = Flag()
        """Set once the socket is to close (its frames may still be flushing)."""

    @property
    def closing(self) -> bool:
        return self._closing

    def send(self, frame: str | bytes) -> None:
        """Queue a frame (text or binary); never waits. A full queue means the client stopped
        reading: 1013."""
        if self._closing:
            return
        frames = self._frames
        # Bounded in frames and in bytes: a few large offers must not pile up megabytes.
        if self._queued_bytes + len(frame) > self._max_bytes or (
            frames is not None and len(frames) >= self._max_frames
        ):
            self._abort(CLOSE_TRY_AGAIN, "too slow: stopped reading")
            return
        if frames is None:
            frames = self._frames = deque()
        frames.append(frame)
        self._queued_bytes += len(frame)
        self._wake_sender()

    def close(self, code: int, reason: str) -> None:
        """Close after the frames already queued (a `welcome` before a 4409, say)."""
        if self._closing:
            return
        if self._frames is not None and len(self._frames) >= self._max_frames:
            self._abort(code, reason)
            return
        self._closing = True
        self.closed.set()
        self.close_code = code
        self._close_request = _CloseRequest(code, reason)
        self._wake_sender()

    def _abort(self, code: int, reason: str) -> None:
        # Drop what is queued: the client will not read it anyway. The sender is most likely
        # stuck in a send the client will never drain; interrupt it, and it sends the close.
        self._closing = True
        self.closed.set()
        self.close_code = code
        self._frames = None
        self._queued_bytes = 0
        self._close_request = _CloseRequest(code, reason)
        if self._sender is not None and self._sending:
            self._interrupted = True
            self._sender.cancel()
        self._wake_sender()

    def start(self) -> asyncio.Future[None]:
        """A future done once the socket is closed from our side (its close frame sent, or given
        up on) or sending failed. Cancelling it stops a close still waiting on the client."""
        done = self._done = asyncio.get_running_loop().create_future()
        if self._finished:
            done.set_result(None)
        else:
            done.add_done_callback(self._on_done)
        return done

    def _on_done(self, done: asyncio.Future[None]) -> None:
        if done.cancelled() and self._sender is not None:
            self._sender.cancel()

    def _wake_sender(self) -> None:
        if self._sender is None and not self._finished:
            self._sender = asyncio.create_task(self._send_queued(), name=f"ws-sender-{self.id}")

    def _finish(self) -> None:
        self._finished = True
        self._frames = None
        if self._done is not None and not self._done.done():
            self._done.set_result(None)

    async def _send_queued(self) -> None:
        try:
            while True:
                frames = self._frames
                if frames:
                    frame = frames.popleft()
                    self._queued_bytes -= len(frame)
                    if not await self._send_one(frame):
                        return
                elif self._close_request is not None:
                    await self._close_socket(self._close_request)
                    return
                else:
                    # Nothing left: the task ends, and the next frame starts another.
                    self._frames = None
                    self._sender = None
                    return
        finally:
            if self._sender is asyncio.current_task():
                self._sender = None
                self._finish()

    async def _send_one(self, frame: str | bytes) -> bool:
        """Send one frame; False once this socket can send no more."""
        self._sending = True
        try:
            if isinstance(frame, str):
                await self._websocket.send_text(frame)
            else:
                await self._websocket.send_bytes(frame)
        except asyncio.CancelledError:
            if not self._interrupted:
                raise
            # Interrupted by _abort: the close request is what is left to send.
            self._interrupted = False
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
        except Exception:
            # The peer is gone; the reader notices the disconnect and cleans up.
            self._closing = True
            self.closed.set()
            return False
        finally:
            self._sending = False
        return True

    async def _close_socket(self, request: _CloseRequest) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await self._websocket.close(request.code, request.reason)
