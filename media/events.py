"""What the media router says to members, through whoever runs it (the room hub)."""

from __future__ import annotations

from dataclasses import dataclass

from media.errors import MediaError
from signaling.ids import PeerId, SessionId


@dataclass(frozen=True)
class MediaOffer:
    """A (re)negotiation offer from the `media` peer: answer it with `MediaRouter.answer`."""

    room_id: SessionId
    member_id: PeerId
    sdp: str


@dataclass(frozen=True)
class MediaFailure:
    """The member's media connection is gone (`error.code` says why); it may join again."""

    room_id: SessionId
    member_id: PeerId
    error: MediaError


MediaEvent = MediaOffer | MediaFailure
