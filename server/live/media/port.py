"""What the room hub needs of a media driver (DESIGN.md §3 routed mode), without aiortc.

The hub hands it the media effects of the rooms it owns, and gives it one way back: a message to
one member of a room (`media`'s offers, and errors about that member's media).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from signaling import MediaEffect, PeerId, RecordingState, ServerMessage, SessionId

__all__ = ["MediaPort", "MemberFacts", "RecordingFailed", "ToMember", "WhoIs"]

ToMember = Callable[[SessionId, PeerId, ServerMessage], None]
"""Queue a message on the member's current connection (dropped if it has none just now)."""
RecordingFailed = Callable[[SessionId, str], None]
"""The room's recording stopped on its own (a full disk), and why: the room turns it off."""


@dataclass(frozen=True)
class MemberFacts:
    """What the room knows of a member that its media needs (speaking time is stored by
    person, per minute of the session)."""

    subject: str
    """The account's or guest's id: who the record says was there."""
    session_started_at: float
    """Wall-clock seconds at the session's start (minute 0, as marks count)."""


WhoIs = Callable[[SessionId, PeerId], MemberFacts | None]
"""The facts of a member of a room the hub runs here (None if it has no such member)."""


class MediaPort(Protocol):
    def attach(
        self,
        to_member: ToMember,
        who: WhoIs | None = None,
        recording_failed: RecordingFailed | None = None,
    ) -> None:
        """Where the driver's messages to members go, who members are, and where a recording
        that stops on its own is reported; called once, by the hub."""

    def carry_out(self, effect: MediaEffect) -> None:
        """Must not block: the hub applies a room's effects in one synchronous step."""

    def recording_changed(self, session: SessionId, state: RecordingState) -> None: ...

    async def close(self) -> None: ...
