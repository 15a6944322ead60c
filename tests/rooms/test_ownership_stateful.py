"""Room ownership across two nodes, explored by Hypothesis (issue 13): joins, heartbeats, renewals,
node deaths, network partitions and Redis restarts that lose every claim, in any order and at
any time. Whatever happens, two nodes never both act as the room's owner.

The nodes follow the hub's rules (`server/live/rooms/hub.py`: `_locate`, `_renew_leases`,
`_heal_dead_owners`) with the real `Lease`, `NodeWatch` and timings of
`server/live/rooms/ownership.py`; the directory is an in-memory Redis that keeps the semantics of
the Lua scripts in `server/live/rooms/directory.py` (a test against the real Redis checks those).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from server.live.rooms.ownership import (
    CLAIM_TTL_S,
    DEAD_AFTER_S,
    HEARTBEAT_S,
    LEASE_S,
    RENEW_S,
    SILENT_CLAIM_S,
    Claim,
    Lease,
    NodeWatch,
)

ROOM = "session-1"
STEP_S = 0.05


@dataclass
class FakeRedis:
    """The directory's scripts, in memory: claims expire, and a restart forgets everything."""

    up: bool = True
    claims: dict[str, tuple[str, float]] = field(default_factory=dict)  # value, expires at
    generations: dict[str, int] = field(default_factory=dict)
    up_since: float | None = None

    def _open(self, now: float) -> bool:
        if self.up_since is None:
            self.up_since = now
        return now - self.up_since >= LEASE_S

    def _current(self, session: str, now: float) -> str | None:
        found = self.claims.get(session)
        if found is None or found[1] <= now:
            self.claims.pop(session, None)
            return None
        return found[0]

    def owner(self, session: str, now: float) -> Claim | None:
        current = self._current(session, now)
        return None if current is None else Claim.parse(session, current)

    def claim(
        self, node: str, session: str, now: float, floor: int, replace: Claim | None
    ) -> Claim | None:
        open_ = self._open(now)
        current = self._current(session, now)
        if current is not None and current != (replace.value if replace else ""):
            return Claim.parse(session, current)
        if current is not None and self.claims[session][1] - now > CLAIM_TTL_S - SILENT_CLAIM_S:
            return Claim.parse(session, current)  # renewed lately: its owner still acts
        if current is None and not open_:
            return None
        generation = max(self.generations.get(session, 0) + 1, floor + 1)
        self.generations[session] = generation
        claim = Claim(session, node, generation)
        self.claims[session] = (claim.value, now + CLAIM_TTL_S)
        return claim

    def renew(self, mine: Claim, now: float) -> Claim | None:
        open_ = self._open(now)
        current = self._current(mine.session, now)
        if current == mine.value or (current is None and open_):
            self.claims[mine.session] = (mine.value, now + CLAIM_TTL_S)
            if self.generations.get(mine.session, 0) < mine.generation:
                self.generations[mine.session] = mine.generation
            return mine
        return None if current is None else Claim.parse(mine.session, current)

    def restart(self) -> None:
        self.up = True
        self.claims.clear()
        self.generations.clear()
        self.up_since = None


_ids = itertools.count(1)


@dataclass
class FakeNode:
    id: str
    watch: NodeWatch
    lease: Lease | None = None
    known: Claim | None = None  # the claim its member sockets follow, when the room is elsewhere
    reachable: bool = True
    heard: bool = True  # its heartbeats reach the others (late ones behind traffic: not heard)
    next_beat: float = 0.0
    next_renew: float = 0.0

    @classmethod
    def start(cls, now: float) -> FakeNode:
        node_id = f"node{next(_ids)}"
        return cls(node_id, NodeWatch(node_id), next_beat=now, next_renew=now)

    def acting(self, now: float) -> bool:
        return self.lease is not None and self.lease.acting(now)


class Ownership(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.redis = FakeRedis()
        self.nodes = [FakeNode.start(self.now), FakeNode.start(self.now)]

    # --- what the world does ------------------------------------------------------------------

    def _online(self, node: FakeNode) -> bool:
        return self.redis.up and node.reachable

    def _beat(self, node: FakeNode) -> None:
        if not self._online(node):
            return
        for other in self.nodes:
            if self._online(other) and (node.heard or other is node):
                other.watch.heard(node.id, self.now)

    def _renew(self, node: FakeNode) -> None:
        """The hub's lease task: renew our claim, then take over from dead owners."""
        if not self._online(node):
            return
        if node.lease is not None:
            found = self.redis.renew(node.lease.claim, self.now)
            if found is not None and found.owner == node.id:
                node.lease.claim, node.lease.renewed_at = found, self.now
            elif found is not None:
                node.lease, node.known = None, found  # fenced: the members move to `found`
        known = node.known
        if known is not None and node.watch.dead(known.owner, self.now):
            found = self.redis.claim(node.id, ROOM, self.now, known.generation, known)
            if found is not None and found != known:
                self.never_taken_from_an_acting_owner(known)
            if found is not None and not node.watch.dead(found.owner, self.now):
                self._follow(node, found)

    def _follow(self, node: FakeNode, claim: Claim) -> None:
        if claim.owner == node.id:
            if node.lease is None:
                node.lease = Lease(claim, self.now)
            node.known = None
        else:
            node.known = claim

    @rule(seconds=st.floats(min_value=STEP_S, max_value=3.0))
    def time_passes(self, seconds: float) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now = min(end, self.now + STEP_S)
            for node in self.nodes:
                if node.next_beat <= self.now:
                    self._beat(node)
                    node.next_beat = self.now + HEARTBEAT_S
                if node.next_renew <= self.now:
                    self._renew(node)
                    node.next_renew = self.now + RENEW_S
            self.never_two_acting_owners()

    @rule(which=st.integers(0, 1))
    def a_member_joins_through(self, which: int) -> None:
        """The hub's `_locate`, for a join arriving at this node."""
        node = self.nodes[which]
        if not self._online(node) or node.lease is not None:
            return
        current = self.redis.owner(ROOM, self.now)
        if current is not None and current.owner == node.id:
            found = self.redis.renew(current, self.now)
            if found is not None:
                self._follow(node, found)
            return
        if current is not None and not node.watch.dead(current.owner, self.now):
            node.known = current
            return
        previous = node.known
        if current is None and previous and not node.watch.dead(previous.owner, self.now):
            return
        floor = previous.generation if previous else 0
        found = self.redis.claim(node.id, ROOM, self.now, floor, current)
        if current is not None and found is not None and found != current:
            self.never_taken_from_an_acting_owner(current)
        if found is not None:
            self._follow(node, found)

    @rule(which=st.integers(0, 1))
    def a_node_dies_and_a_new_one_starts(self, which: int) -> None:
        # SIGKILL: its lease goes with it; the process that replaces it has a new id.
        self.nodes[which] = FakeNode.start(self.now)

    @rule(which=st.integers(0, 1))
    def a_node_is_cut_off(self, which: int) -> None:
        self.nodes[which].reachable = False

    @rule(which=st.integers(0, 1))
    def a_node_is_reachable_again(self, which: int) -> None:
        self.nodes[which].reachable = True

    @rule(which=st.integers(0, 1), heard=st.booleans())
    def a_nodes_heartbeats_fall_behind_its_traffic(self, which: int, heard: bool) -> None:
        """Its heartbeats stop reaching the other node while it still renews its claims."""
        self.nodes[which].heard = heard

    @precondition(lambda self: self.redis.up)
    @rule()
    def redis_dies(self) -> None:
        self.redis.up = False

    @precondition(lambda self: not self.redis.up)
    @rule()
    def redis_restarts_empty(self) -> None:
        self.redis.restart()

    # --- what must always hold ----------------------------------------------------------------

    def never_taken_from_an_acting_owner(self, claim: Claim) -> None:
        """A claim is replaced only once its owner has stopped acting on it: silence on the bus
        (late heartbeats) alone moves no room."""
        owner = next((n for n in self.nodes if n.id == claim.owner), None)
        assert owner is None or not owner.acting(self.now), (claim, self.now)

    @invariant()
    def never_two_acting_owners(self) -> None:
        acting = [n.id for n in self.nodes if n.acting(self.now)]
        assert len(acting) <= 1, (acting, self.now)


Ownership.TestCase.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
test_room_ownership_across_two_nodes = Ownership.TestCase


def test_late_heartbeats_alone_move_no_room() -> None:
    """The run that two busy nodes kept having (issue 13), spelled out: the owner's heartbeats
    fall behind its traffic while it renews its claim; the other node, which has a member in
    the room, finds it "dead" and tries to take the room over. It must not get it."""
    world = Ownership()
    world.a_member_joins_through(1)  # the directory's first sight of Redis: quarantine
    world.time_passes(1.5)
    world.a_member_joins_through(1)  # node 1 runs the room
    world.a_member_joins_through(0)  # node 0's member follows it there
    owner = world.nodes[1]
    assert owner.lease is not None
    assert world.nodes[0].known == owner.lease.claim
    world.a_nodes_heartbeats_fall_behind_its_traffic(1, heard=False)
    world.time_passes(3 * DEAD_AFTER_S)
    assert owner.lease is not None
    assert owner.acting(world.now)
    assert world.nodes[0].lease is None
