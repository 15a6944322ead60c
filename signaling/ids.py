"""Identifiers and roles used by the signaling room (DESIGN.md §2).

Ids are plain strings on the wire; `NewType` keeps a peer id from being passed where a session or
connection id is expected without costing anything at run time.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final, NewType

PeerId = NewType("PeerId", str)
"""A member of one room, as other members see it (`to`/`from` of a `signal`)."""

SessionId = NewType("SessionId", str)
"""The session a room belongs to (`/ws/sessions/{session_id}`)."""

ConnectionId = NewType("ConnectionId", str)
"""One socket, named by the shell. A peer outlives its connections (resume, replacement), so effects
are addressed to connections: the shell can always tell which socket an effect is for."""

MEDIA_PEER: Final = PeerId("media")
"""The server's own media peer in `routed` mode (DESIGN.md §2); never handed to a member."""


class Role(StrEnum):
    """What a member may do in the room.

    Whether a member has to wait in the lobby is *not* a role: a guest who redeemed an invite acts
    as a trainee but must be admitted, while a trainee with an account may be admitted directly.
    That is `Principal.needs_admission`.
    """

    MENTOR = "mentor"
    TRAINEE = "trainee"
    SUPERVISOR = "supervisor"


class MediaMode(StrEnum):
    """How media flows (DESIGN.md §3): browser to browser, or through the server's `media` peer."""

    DIRECT = "direct"
    ROUTED = "routed"


class RecordingState(StrEnum):
    """The recording state machine: `active` only while every admitted member consents."""

    OFF = "off"
    PENDING_CONSENT = "pending-consent"
    ACTIVE = "active"
