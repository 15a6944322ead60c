"""The `media` peer of routed rooms, driven by the room hub (DESIGN.md §3)."""

from __future__ import annotations

from server.live.media.driver import MediaDriver
from server.live.media.port import MediaPort, MemberFacts, ToMember, WhoIs

__all__ = ["MediaDriver", "MediaPort", "MemberFacts", "ToMember", "WhoIs"]
