"""Every WebSocket close code the server sends, in one place (DESIGN.md §2). The web client
mirrors this table in ``web/static/close-codes.js``; a test keeps the two equal."""

from __future__ import annotations

__all__ = [
    "CLOSE_ENDED",
    "CLOSE_NORMAL",
    "CLOSE_NOT_ALLOWED",
    "CLOSE_NOT_AUTHENTICATED",
    "CLOSE_NO_SESSION",
    "CLOSE_OVERLOADED",
    "CLOSE_POLICY",
    "CLOSE_REPLACED",
    "CLOSE_RESTARTING",
    "CLOSE_TOO_BIG",
    "CLOSE_TRY_AGAIN",
    "NAMES",
    "NOT_ALLOWED_REASONS",
    "REASON_DENIED",
    "REASON_DIRECT_VIDEO",
    "REASON_ORIGIN",
    "close_name",
]

CLOSE_NORMAL = 1000
CLOSE_POLICY = 1008  # rate limit, bad message, over a budget
CLOSE_TOO_BIG = 1009
CLOSE_RESTARTING = 1012  # RFC 6455 "service restart": this node is draining; reconnect now
CLOSE_TRY_AGAIN = 1013  # too slow, or the server is overloaded
CLOSE_OVERLOADED = CLOSE_TRY_AGAIN
CLOSE_NOT_AUTHENTICATED = 4401  # no sign-in, or it ended (signed out, disabled, link withdrawn)
CLOSE_NOT_ALLOWED = 4403  # not allowed (origin, membership, a mentor's denial, a denied edit)
CLOSE_NO_SESSION = 4404
CLOSE_REPLACED = 4409  # a newer connection of the same member took over
CLOSE_ENDED = 4410

# The names the web client shows reasons by.
NAMES = {
    CLOSE_NORMAL: "normal",
    CLOSE_POLICY: "policy",
    CLOSE_TOO_BIG: "too-big",
    CLOSE_RESTARTING: "restarting",
    CLOSE_TRY_AGAIN: "try-again",
    CLOSE_NOT_AUTHENTICATED: "not-authenticated",
    CLOSE_NOT_ALLOWED: "not-allowed",
    CLOSE_NO_SESSION: "no-session",
    CLOSE_REPLACED: "replaced",
    CLOSE_ENDED: "ended",
}

# A 4403 says who refused in its close reason, so that a page never blames the wrong person
# (issue 9, dead end 3): exactly "origin" when the page's address is not one the server serves
# (PRECEPTOR_PUBLIC_URL / PRECEPTOR_ALLOWED_ORIGINS: the operator's to fix), exactly "denied" when a
# mentor did not let the member in from the lobby. Any other 4403 reason is a person-readable
# refusal by the access policy, named "not-allowed".
REASON_ORIGIN = "origin"
REASON_DENIED = "denied"
# An observer at a session whose video is direct (issue 11): nothing reaches the server to
# observe, so the page explains that instead of blaming the account.
REASON_DIRECT_VIDEO = "direct-video"
NOT_ALLOWED_REASONS = (REASON_ORIGIN, REASON_DENIED, REASON_DIRECT_VIDEO)


def close_name(code: int, reason: str = "") -> str:
    """The name a page shows a close by (``closeName`` in the web client's mirror)."""
    if code == CLOSE_NOT_ALLOWED and reason in NOT_ALLOWED_REASONS:
        return reason
    return NAMES.get(code, "unknown")
