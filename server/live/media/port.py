"""What the room hub needs of a media driver (DESIGN.md §3 routed mode), without aiortc.

The hub hands it the media effects of the rooms it owns, and gives it one way back: a message to
one member of a room (`media`'s offers, and errors about that member's media).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from signaling import MediaEffect, PeerId, RecordingState, ServerMessage, SessionId

__all__ = ["MediaPort", "ToMember"]

ToMember = Callable[[SessionId, PeerId, ServerMessage], None]
"""Queue a message on the member's current connection (dropped if it has none just now)."""


class MediaPort(Protocol):
    def attach(self, to_member: ToMember) -> None:
        """Where the driver's messages to members go; called once, by the hub."""

    def carry_out(self, effect: MediaEffect) -> None:
        """Must not block: the hub applies a room's effects in one synchronous step."""

    def recording_changed(self, session: SessionId, state: RecordingState) -> None: ...

    async def close(self) -> None: ...
