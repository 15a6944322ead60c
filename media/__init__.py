"""The server-side media peer (aiortc) of routed rooms: forwards packets, never transcodes.

aiortc and aioice are imported only inside this package (DESIGN.md §1); their errors surface as
`MediaError`. See `media/router.py` for the port the room hub drives.
"""

from media.config import MediaConfig, VideoCodec
from media.errors import MediaError, MediaErrorCode
from media.events import MediaEvent, MediaFailure, MediaOffer, SpeakingTime
from media.forwarding import RtpSink
from media.hooks import HookPointMovedError, check_hook_points
from media.router import ForwardStats, MediaRouter, Tap, TrackStats
from media.rules import ForwardingRules, Kind, Narrowing
from media.speaking import SpeechMinute

__all__ = [
    "ForwardStats",
    "ForwardingRules",
    "HookPointMovedError",
    "Kind",
    "MediaConfig",
    "MediaError",
    "MediaErrorCode",
    "MediaEvent",
    "MediaFailure",
    "MediaOffer",
    "MediaRouter",
    "Narrowing",
    "RtpSink",
    "SpeakingTime",
    "SpeechMinute",
    "Tap",
    "TrackStats",
    "VideoCodec",
    "check_hook_points",
]
