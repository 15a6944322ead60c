"""The one error type of `media/`: each aiortc, aioice, SDP and SRTP failure becomes `MediaError`.

aiortc's SDP parsing alone raises at least seven exception types (DESIGN.md §5); callers of the
media port never see any of them, only a code they can act on and a sentence a person understands.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from enum import StrEnum

import pylibsrtp
from aiortc.exceptions import (
    InternalError,
    InvalidAccessError,
    InvalidStateError,
    OperationError,
)


class MediaErrorCode(StrEnum):
    BAD_SDP = "bad-sdp"
    NO_USABLE_CODEC = "no-usable-codec"
    OBSERVER_CANNOT_PUBLISH = "observer-cannot-publish"
    ICE_TIMEOUT = "ice-timeout"
    CONNECTION_FAILED = "connection-failed"
    WRONG_STATE = "wrong-state"
    BAD_CANDIDATE = "bad-candidate"
    NOT_JOINED = "not-joined"
    CLOSED = "closed"
    CAPACITY = "media-capacity"


class MediaError(Exception):
    """A media request that could not be carried out; `message` is safe to show a member."""

    def __init__(self, code: MediaErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"MediaError({self.code.value!r}, {self.message!r})"


# Everything aiortc, aioice and pylibsrtp were seen to raise on bad input or a lost transport.
FOREIGN_ERRORS: tuple[type[BaseException], ...] = (
    AssertionError,
    ValueError,
    KeyError,
    StopIteration,
    AttributeError,
    IndexError,
    TypeError,
    InternalError,
    InvalidAccessError,
    InvalidStateError,
    OperationError,
    pylibsrtp.Error,
    ConnectionError,
    OSError,
)


@contextlib.contextmanager
def mapped(code: MediaErrorCode, message: str) -> Iterator[None]:
    """The boundary: a foreign failure inside becomes `MediaError(code, message)`.

    aiortc raises `OperationError` only when no codec of an m-line is acceptable, so it keeps its
    own code whatever step it came from.
    """
    try:
        yield
    except MediaError:
        raise
    except OperationError as exc:
        raise MediaError(
            MediaErrorCode.NO_USABLE_CODEC,
            "Your browser offered no codec this room uses (VP8 or H.264, and Opus). "
            "Try another browser.",
        ) from exc
    except FOREIGN_ERRORS as exc:
        raise MediaError(code, message) from exc
