"""Hypothesis drives a room with random joins, resumes, admissions, denials, signals, drops and
expiries from random principals, acting as the shell would, and checks after every step that:

- nothing is ever sent to a connection that is not currently a member of the room, nor to one the
  room has closed or that has disconnected;
- lobby members hear nothing of the room (only `waiting`, `pong`, `error`);
- every connected admitted member's picture of the roster (its `welcome.peers`, plus `peer-joined`,
  minus `peer-left`) is exactly the admitted members other than itself;
- relayed signals carry the sender's peer id and reach only the addressed member;
- recording is `active` only while every admitted member consents;
- one person (principal subject) is never two members (a second join takes the first over).
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from signaling import (
    CLOSE_ENDED,
    CLOSE_NORMAL,
    CLOSE_NOT_ALLOWED,
    CLOSE_REPLACED,
    MEDIA_PEER,
    Admit,
    Chat,
    ClientMessage,
    Close,
    ConnectionId,
    Consent,
    Deny,
    Effect,
    ErrorMessage,
    Join,
    Leave,
    Mark,
    PeerId,
    PeerJoined,
    PeerLeft,
    Ping,
    Pong,
    Principal,
    RecordingCommand,
    RecordingState,
    Role,
    Room,
    Send,
    SessionDescription,
    SessionId,
    Signal,
    SignalRelay,
    StateUpdate,
    Waiting,
    Welcome,
)

GRACE = 30.0
PRINCIPALS = [
    Principal("mentor-1", Role.MENTOR, "Mentor One"),
    Principal("mentor-2", Role.MENTOR, "Mentor Two"),
    Principal("trainee-1", Role.TRAINEE, "Trainee"),
    Principal("supervisor-1", Role.SUPERVISOR, "Supervisor"),
    Principal("guest-1", Role.TRAINEE, "Guest One", needs_admission=True),
    Principal("guest-2", Role.TRAINEE, "Guest Two", needs_admission=True),
]
LOBBY_MAY_HEAR = (Waiting, Pong, ErrorMessage)
OFFER = SessionDescription(type="offer", sdp="v=0\r\n")
pick = st.integers(0, 10_000)


class RoomMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        ids = iter(range(1, 10**6))
        tokens = iter(range(1, 10**6))
        self.now = 0.0
        self.room = Room(
            SessionId("s"),
            started_at=0.0,
            started_wall=1.7e9,
            new_id=lambda: f"p{next(ids)}",
            new_token=lambda: f"t{next(tokens)}",
            grace=GRACE,
        )
        self.connections: list[ConnectionId] = []  # every socket ever opened, live or not
        self.live: set[ConnectionId] = set()  # opened and neither closed nor disconnected
        self.told: dict[ConnectionId, set[PeerId]] = {}  # each socket's picture of the roster
        self.subject_of: dict[ConnectionId, str] = {}
        self.tokens: list[tuple[str, str]] = [("nobody", "not-a-token")]  # (subject, token)
        self.person: dict[PeerId, str] = {}  # peer → the subject it was handed to
        self.peers: list[PeerId] = [MEDIA_PEER, PeerId("ghost")]

    # --- the shell's side ------------------------------------------------------------------------

    def run(
        self, call: Callable[[], list[Effect]], joining: ConnectionId | None = None
    ) -> list[Effect]:
        """Make one call into the room and carry out its effects, checking each."""
        members_before = {c for c in self.connections if self.room.peer_of(c) is not None}
        effects = call()
        for effect in effects:
            if isinstance(effect, Close):
                assert effect.to in members_before or effect.to == joining
                assert effect.code in {CLOSE_NORMAL, CLOSE_NOT_ALLOWED, CLOSE_REPLACED, CLOSE_ENDED}
                self.live.discard(effect.to)
                self.told.pop(effect.to, None)
            elif isinstance(effect, Send):
                self.deliver(effect.to, effect.message)
        return effects

    def deliver(self, conn: ConnectionId, message: object) -> None:
        peer = self.room.peer_of(conn)
        assert peer is not None, f"{message!r} sent to a non-member connection {conn}"
        assert conn in self.live, f"{message!r} sent to a closed connection {conn}"
        if peer in {p.id for p in self.room.lobby()}:
            assert isinstance(message, LOBBY_MAY_HEAR), f"lobby member {peer} heard {message!r}"
        match message:
            case Welcome():
                assert message.peer == peer
                self.told[conn] = {p.id for p in message.peers}
                self.tokens.append((self.subject_of[conn], message.resume))
                assert self.person.setdefault(peer, self.subject_of[conn]) == self.subject_of[conn]
            case Waiting():
                self.tokens.append((self.subject_of[conn], message.resume))
                assert self.person.setdefault(peer, self.subject_of[conn]) == self.subject_of[conn]
            case PeerJoined():
                assert message.peer.id not in self.told[conn], "announced twice"
                assert message.peer.id != peer
                self.told[conn].add(message.peer.id)
            case PeerLeft():
                self.told[conn].remove(message.peer)
                if message.reason == "replaced":
                    assert message.peer in {p.id for p in self.room.members()}

    def member_connection(self, index: int) -> ConnectionId | None:
        live = sorted(self.live)
        return live[index % len(live)] if live else None

    def any_peer(self, index: int, where: str) -> PeerId:
        """Mostly a plausible target (so that admissions and relays happen), sometimes anyone."""
        candidates = {
            "lobby": [p.id for p in self.room.lobby()],
            "members": [p.id for p in self.room.members()],
            "anyone": self.peers,
        }[where] or self.peers
        return candidates[index % len(candidates)]

    # --- rules -----------------------------------------------------------------------------------

    @rule(
        who=st.sampled_from(PRINCIPALS),
        resume=st.sampled_from([None, "own", "anyone's"]),
        index=pick,
        name=st.none() | st.just("Z"),
    )
    def join(self, who: Principal, resume: str | None, index: int, name: str | None) -> None:
        conn = ConnectionId(f"c{len(self.connections)}")
        self.connections.append(conn)
        self.live.add(conn)
        self.subject_of[conn] = who.subject
        own = [t for subject, t in self.tokens if subject == who.subject]
        tokens = own if resume == "own" and own else [t for _, t in self.tokens]
        token = None if resume is None else tokens[index % len(tokens)]
        message = Join(display_name=name, resume=token)
        self.run(lambda: self.room.join(conn, who, message, self.now), joining=conn)
        self.peers.extend(p.id for p in (*self.room.members(), *self.room.lobby()))
        if self.room.peer_of(conn) is None:  # the session had ended
            self.live.discard(conn)

    @rule(
        sender=pick,
        aim=pick,
        kind=st.sampled_from(["admit", "deny", "signal"]),
        where=st.sampled_from(["lobby", "members", "anyone"]),
    )
    def aimed(self, sender: int, aim: int, kind: str, where: str) -> None:
        conn = self.member_connection(sender)
        if conn is None:
            return
        peer = self.any_peer(aim, where)
        message: ClientMessage
        if kind == "admit":
            message = Admit(peer=peer)
        elif kind == "deny":
            message = Deny(peer=peer)
        else:
            message = Signal(to=peer, description=OFFER)
        sender_peer = self.room.peer_of(conn)
        target_conn = self.room.connection_of(peer)
        effects = self.run(lambda: self.room.handle(conn, message, self.now))
        for effect in effects:
            if isinstance(effect, Send) and isinstance(effect.message, SignalRelay):
                assert effect.message.from_ == sender_peer
                assert effect.to == target_conn

    @rule(
        sender=pick,
        message=st.sampled_from(
            [
                StateUpdate(audio=True, video=False, screen=False),
                Chat(text="hi"),
                Mark(label="m"),
                RecordingCommand(action="start"),
                RecordingCommand(action="stop"),
                Consent(granted=True),
                Consent(granted=False),
                Ping(id="1"),
                Leave(),
                Join(),
            ]
        ),
    )
    def simple(self, sender: int, message: ClientMessage) -> None:
        conn = self.member_connection(sender)
        if conn is not None:
            self.run(lambda: self.room.handle(conn, message, self.now))

    @rule(sender=pick)
    def from_a_dead_socket(self, sender: int) -> None:
        if self.connections:
            conn = self.connections[sender % len(self.connections)]
            if conn not in self.live:
                assert self.room.handle(conn, Chat(text="late"), self.now) == []

    @rule(index=pick)
    def disconnect(self, index: int) -> None:
        if self.connections:
            conn = self.connections[index % len(self.connections)]
            assert self.room.disconnect(conn, self.now) == []
            self.live.discard(conn)
            self.told.pop(conn, None)

    @rule(seconds=st.sampled_from([0.5, 5.0, GRACE - 1, GRACE]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds
        self.run(lambda: self.room.expire(self.now))
        expiry = self.room.next_expiry()
        assert expiry is None or expiry > self.now

    @rule(dice=st.integers(0, 15))
    def end(self, dice: int) -> None:
        if dice == 0:  # rarely, so that most runs explore a living room
            self.run(self.room.end)
            assert not self.live

    # --- invariants ------------------------------------------------------------------------------

    @invariant()
    def every_member_knows_the_roster(self) -> None:
        admitted = {p.id for p in self.room.members()}
        for conn in self.live:
            peer = self.room.peer_of(conn)
            assert peer is not None
            if peer in admitted:
                assert self.told[conn] == admitted - {peer}
            else:
                assert conn not in self.told  # never welcomed, never told anything

    @invariant()
    def indexes_agree(self) -> None:
        admitted = {p.id for p in self.room.members()}
        waiting = {p.id for p in self.room.lobby()}
        assert not admitted & waiting
        for peer in admitted | waiting:
            conn = self.room.connection_of(peer)
            assert conn is None or self.room.peer_of(conn) == peer

    @invariant()
    def one_member_per_person(self) -> None:
        present = [p.id for p in (*self.room.members(), *self.room.lobby())]
        people = [self.person[p] for p in present if p in self.person]
        assert len(people) == len(set(people))

    @invariant()
    def recording_needs_everyone(self) -> None:
        status = self.room.recording()
        if status.state is RecordingState.ACTIVE:
            assert set(status.consents) == {p.id for p in self.room.members()} != set()


RoomMachine.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=50,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRoomMachine = RoomMachine.TestCase
