"""Who may run a room, and when (issue 13: rooms that heal). No I/O; the clock is passed in.

A room runs on one node, its owner, which holds a *claim* in the directory: ``node|generation``.
Each new claim of a room gets a higher generation, so an old owner's claim never matches a new
one (fencing). The owner *acts* (applies input, sends effects) only while its *lease* holds: for
``LEASE_S`` after the start of its last successful claim or renewal. Renewals run every
``RENEW_S``; when they fail (the directory is away) the owner stops acting within ``LEASE_S`` and
keeps the room's input until it renews again, or hands the room to whoever holds the claim now.

Another node may take a claim over only when the claim is vacant, or when its owner is dead: no
heartbeat heard for ``DEAD_AFTER_S`` while our own heartbeats were heard, *and* (checked by the
directory, on Redis's clock) the claim not renewed for ``SILENT_CLAIM_S``. Silence on the bus
alone is not proof: heartbeats can be late behind traffic while the owner renews and acts (two
busy nodes took each other's rooms hundreds of times in five minutes, issue 13). An owner that
has not renewed for ``SILENT_CLAIM_S > LEASE_S`` has stopped acting, so a taken-over owner never
acts beside the new one. After Redis itself restarted (its claims
are gone), no vacant claim is granted for ``LEASE_S`` (the directory's quarantine), so an owner
whose lease outlived Redis's memory has stopped acting before anyone else may start.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "CLAIM_TTL_S",
    "DEAD_AFTER_S",
    "HEARTBEAT_S",
    "LEASE_S",
    "RENEW_S",
    "SILENT_CLAIM_S",
    "Claim",
    "Lease",
    "NodeWatch",
    "SocketClaims",
]

HEARTBEAT_S = 0.5
RENEW_S = 0.25
LEASE_S = 1.0
DEAD_AFTER_S = 2.0
SILENT_CLAIM_S = LEASE_S + RENEW_S
CLAIM_TTL_S = 10.0
"""How long Redis keeps a claim nobody renews: only the clean-up after a whole deployment stops;
a dead owner is noticed by its missing heartbeat, long before."""


@dataclass(frozen=True, slots=True)
class Claim:
    session: str
    owner: str
    generation: int

    @property
    def value(self) -> str:
        return f"{self.owner}|{self.generation}"

    @classmethod
    def parse(cls, session: str, value: str) -> Claim:
        owner, _, generation = value.rpartition("|")
        return cls(session, owner, int(generation) if generation.isdigit() else 0)


@dataclass(slots=True)
class Lease:
    """This node's hold on one room it runs."""

    claim: Claim
    renewed_at: float

    def acting(self, now: float) -> bool:
        return now < self.renewed_at + LEASE_S


class NodeWatch:
    """The other nodes' heartbeats as this node hears them. Our own heartbeat comes back to us
    over the bus: while it does not, the bus is down and silence from others proves nothing."""

    def __init__(self, node_id: str) -> None:
        self.node_id = node_id
        self._heard: dict[str, float] = {}
        self._learned: dict[str, float] = {}  # nodes never heard: when we first asked about them
        self._listening: dict[str, bool] = {}  # each node's word: it hears its own heartbeat
        self._healthy_since: float | None = None

    def heard(self, node: str, now: float, listening: bool = True) -> None:
        if node == self.node_id and not self.bus_healthy(now):
            self._healthy_since = now
        self._heard[node] = now
        self._listening[node] = listening

    def ready(self, node: str, now: float) -> bool:
        """A message published to ``node`` now reaches it: our bus works, and its last
        heartbeat, just now, said it is subscribed again. (Redis drops what is published to a
        channel nobody listens to: a node back from an outage resubscribes a moment later.)"""
        heard = self._heard.get(node)
        recent = heard is not None and now - heard < 2 * HEARTBEAT_S + 0.5
        return self.bus_healthy(now) and recent and self._listening.get(node, False)

    def bus_healthy(self, now: float) -> bool:
        own = self._heard.get(self.node_id)
        return own is not None and now - own < 2 * HEARTBEAT_S + 0.5

    def dead(self, node: str, now: float) -> bool:
        """``node`` has been silent for ``DEAD_AFTER_S`` of a healthy bus. A node never heard
        (it may have started a moment ago) gets that long from when we first ask about it."""
        if node == self.node_id or not self.bus_healthy(now) or self._healthy_since is None:
            return False
        heard = self._heard.get(node)
        if heard is None:
            heard = self._learned.setdefault(node, now)
        return now - max(heard, self._healthy_since) >= DEAD_AFTER_S

    def forget_quiet(self, now: float, older_than_s: float = 600.0) -> None:
        """Drop nodes not heard for a long while (a restarted node comes back with a new id)."""
        for seen in (self._heard, self._learned):
            for node, at in list(seen.items()):
                if now - at > older_than_s:
                    del seen[node]
                    self._listening.pop(node, None)


class SocketClaims:
    """The claim of each socket's room on this node (connection id → claim), with the claims
    known per room beside it: locating a room asks what this node knows of that room's claims,
    which must not cost a look at every socket of the node (it did: per new room, a scan of
    all its sockets, ~57 µs at 4,000).
    """

    __slots__ = ("_by_connection", "_by_session")

    def __init__(self) -> None:
        self._by_connection: dict[str, Claim] = {}
        self._by_session: dict[str, dict[str, Claim]] = {}

    def get(self, connection: str) -> Claim | None:
        return self._by_connection.get(connection)

    def __setitem__(self, connection: str, claim: Claim) -> None:
        self.pop(connection)
        self._by_connection[connection] = claim
        self._by_session.setdefault(claim.session, {})[connection] = claim

    def pop(self, connection: str) -> Claim | None:
        claim = self._by_connection.pop(connection, None)
        if claim is not None:
            of_room = self._by_session[claim.session]
            del of_room[connection]
            if not of_room:
                del self._by_session[claim.session]
        return claim

    def items(self) -> list[tuple[str, Claim]]:
        return list(self._by_connection.items())

    def claims(self) -> set[Claim]:
        """Every claim a socket here is under (each once)."""
        return set(self._by_connection.values())

    def of_session(self, session: str) -> list[Claim]:
        """The claims sockets here hold for this room (more than one while it moves)."""
        return list(self._by_session.get(session, {}).values())
