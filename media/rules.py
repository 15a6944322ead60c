"""Who receives whose tracks: the room's forwarding rules (issue 11).

The default is everyone else. Observers are one rule (they receive, never publish); narrowing a
publisher's track to some members (the mentor's audio to the trainee only: a "whisper") is
another, so a new kind of rule is a new field here, not a special case in the forwarder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from signaling.ids import PeerId

Kind = Literal["audio", "video"]


@dataclass(frozen=True)
class Narrowing:
    """`publisher`'s tracks of `kind` go only to `to` (and never to anyone else)."""

    publisher: PeerId
    kind: Kind
    to: frozenset[PeerId]


@dataclass(frozen=True)
class ForwardingRules:
    observers: frozenset[PeerId] = frozenset()
    narrowings: tuple[Narrowing, ...] = field(default=())

    def may_publish(self, member: PeerId) -> bool:
        return member not in self.observers

    def receives(self, viewer: PeerId, publisher: PeerId, kind: Kind) -> bool:
        if viewer == publisher or not self.may_publish(publisher):
            return False
        return all(
            viewer in rule.to
            for rule in self.narrowings
            if rule.publisher == publisher and rule.kind == kind
        )
