"""The node's forwarding capacity (issue 11, DESIGN.md §3): admit streams only below it.

An overloaded event loop misses ICE consent checks and every call on the node drops at once, so
a member whose streams would take the node past its limit is refused, and the calls it carries
keep all of theirs. A stream is one publisher's track to one viewer; every member who may publish
is counted with audio and video from the moment it joins (what it may publish, not what it has
negotiated yet), so a refusal comes at the join, never mid-call.
"""

from __future__ import annotations

from collections.abc import Collection

from media.errors import MediaError, MediaErrorCode
from media.rules import ForwardingRules, Kind
from signaling.ids import PeerId

KINDS: tuple[Kind, ...] = ("audio", "video")


def planned(rules: ForwardingRules, members: Collection[PeerId]) -> int:
    """The streams a room of `members` forwards under `rules`."""
    return sum(
        rules.receives(viewer, publisher, kind)
        for viewer in members
        for publisher in members
        for kind in KINDS
    )


def admit(
    rules: ForwardingRules,
    members: Collection[PeerId],
    joining: PeerId,
    *,
    carried: int,
    limit: int,
) -> None:
    """Raise `MediaError(CAPACITY)` if `joining` would take the node's `carried` streams past
    `limit` (a member joining again adds nothing: its streams are counted already)."""
    others = [m for m in members if m != joining]
    added = planned(rules, [*others, joining]) - planned(rules, members)
    if added > 0 and carried + added > limit:
        raise MediaError(
            MediaErrorCode.CAPACITY,
            "The server is at capacity and cannot carry your audio and video now. "
            "Try again in a few minutes, or ask your organisation to add capacity.",
        )
