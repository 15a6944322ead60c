"""Who is in a room, indexed three ways: by peer id, by live connection and by resume token.

Kept apart from the room's rules so the indices can only change together (a member is in all three
or in none) and the rules read as rules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from signaling.effects import Send
from signaling.ids import MEDIA_PEER, ConnectionId, PeerId, RecordingState, Role
from signaling.messages import IceServer, Peer, RecordingStatus, ServerMessage, StateUpdate


@dataclass(slots=True)
class Member:
    """One member's mutable state; only `Roster` changes `connection` and `lost_at`."""

    peer: Peer
    subject: str
    token: str
    connection: ConnectionId | None
    admitted: bool
    ice_servers: tuple[IceServer, ...]
    lost_at: float | None = None
    keep_for: float | None = None
    """Seconds a lost member keeps its place, when not the room's grace (a silent socket)."""
    media: StateUpdate | None = None
    consent: bool = False
    guest: bool = False

    @property
    def is_mentor(self) -> bool:
        return self.peer.role is Role.MENTOR

    @property
    def sees_hidden(self) -> bool:
        """Sees observers the session hides from trainees and guests, and what they say."""
        return self.peer.role in (Role.MENTOR, Role.SUPERVISOR)

    @property
    def sees_marks(self) -> bool:
        # Marks are the mentor's private notes, shared with supervisors who review the mentoring.
        return self.peer.role in (Role.MENTOR, Role.SUPERVISOR)


class Roster:
    def __init__(self) -> None:
        self._members: dict[PeerId, Member] = {}  # insertion order = joining order
        self._by_connection: dict[ConnectionId, PeerId] = {}
        self._by_token: dict[str, PeerId] = {}

    def __bool__(self) -> bool:
        return bool(self._members)

    def __iter__(self) -> Iterator[Member]:
        # A copy, so callers may forget members while iterating.
        return iter(list(self._members.values()))

    def admitted(self) -> Iterator[Member]:
        return (m for m in self._members.values() if m.admitted)

    def waiting(self) -> tuple[Peer, ...]:
        return tuple(m.peer for m in self._members.values() if not m.admitted)

    def get(self, peer: PeerId) -> Member | None:
        return self._members.get(peer)

    def by_connection(self, connection: ConnectionId) -> Member | None:
        peer = self._by_connection.get(connection)
        return None if peer is None else self._members[peer]

    def by_token(self, token: str) -> Member | None:
        peer = self._by_token.get(token)
        return None if peer is None else self._members[peer]

    def by_subject(self, subject: str) -> Member | None:
        """The member that is this person: the room keeps one per person (a takeover)."""
        return next((m for m in self._members.values() if m.subject == subject), None)

    def retoken(self, member: Member, token: str) -> None:
        """A new resume token for `member`; the old one no longer resumes it."""
        del self._by_token[member.token]
        member.token = token
        self._by_token[token] = member.peer.id

    def add(self, member: Member, connection: ConnectionId) -> None:
        if member.peer.id in self._members or member.peer.id == MEDIA_PEER:
            # Ids come from the shell's `new_id`; a repeat would merge two people into one peer.
            raise ValueError(f"peer id already in use: {member.peer.id!r}")
        self._members[member.peer.id] = member
        self._by_token[member.token] = member.peer.id
        self.attach(member, connection)

    def attach(self, member: Member, connection: ConnectionId) -> ConnectionId | None:
        """Give `member` a new connection; return the one it replaces, if it still had one."""
        replaced = member.connection
        if replaced is not None:
            del self._by_connection[replaced]
        member.connection = connection
        member.lost_at = None
        member.keep_for = None
        self._by_connection[connection] = member.peer.id
        return replaced

    def detach(self, connection: ConnectionId, now: float, keep_for: float | None = None) -> None:
        """The connection closed; its member, if any, is kept as lost since `now`."""
        peer = self._by_connection.pop(connection, None)
        if peer is not None:
            member = self._members[peer]
            member.connection = None
            member.lost_at = now
            member.keep_for = keep_for

    def forget(self, member: Member) -> None:
        del self._members[member.peer.id]
        del self._by_token[member.token]
        if member.connection is not None:
            del self._by_connection[member.connection]

    def clear(self) -> None:
        self._members.clear()
        self._by_connection.clear()
        self._by_token.clear()

    def send_all(self, message: ServerMessage, where: Callable[[Member], bool]) -> list[Send]:
        """To every connected admitted member `where` holds for. Everything the room sends that is
        not a reply to the sender goes through here, so no lobby member ever hears room traffic."""
        return [
            Send(m.connection, message)
            for m in self.admitted()
            if m.connection is not None and where(m)
        ]

    def clear_consents(self) -> None:
        for member in self._members.values():
            member.consent = False

    def recording(self, wanted: bool) -> RecordingStatus:
        """`active` only while recording is wanted and every admitted member consents (§5);
        consents are listed in joining order so that equal rosters give equal statuses. An
        observer publishes nothing, so nothing of theirs is recorded and nobody asks them (nor
        does a hidden observer's id reach the trainee through this list)."""
        admitted = [m for m in self.admitted() if not m.peer.observer]
        consents = tuple(m.peer.id for m in admitted if m.consent)
        if not wanted:
            state = RecordingState.OFF
        elif admitted and len(consents) == len(admitted):
            state = RecordingState.ACTIVE
        else:
            state = RecordingState.PENDING_CONSENT
        return RecordingStatus(state=state, consents=consents)
