"""What the media router says to members, through whoever runs it (the room hub)."""

from __future__ import annotations

from dataclasses import dataclass

from media.errors import MediaError
from media.speaking import SpeechMinute
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


@dataclass(frozen=True)
class SpeakingTime:
    """Speech heard in the room since the last such event (at most one per room per flush
    interval, and a last one when the room ends): add each minute's `ms` to what is stored."""

    room_id: SessionId
    minutes: tuple[SpeechMinute, ...]


MediaEvent = MediaOffer | MediaFailure | SpeakingTime
