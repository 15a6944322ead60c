"""What the live hubs need of a member's socket: its id, a frame queued without waiting, and a
close. The socket itself (a bounded queue and its sender task) is the sockets layer's
(``server/sockets/connection.py``): live code never touches a WebSocket."""

from __future__ import annotations

from typing import Protocol

from signaling import ConnectionId

__all__ = ["SocketConnection"]


class SocketConnection(Protocol):
    @property
    def id(self) -> ConnectionId: ...

    def send(self, frame: str | bytes) -> None:
        """Queue a frame; never waits (a client that stops reading is closed 1013)."""

    def close(self, code: int, reason: str) -> None:
        """Close with ``code`` once what is queued has been sent."""
