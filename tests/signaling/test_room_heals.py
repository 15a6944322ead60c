"""A room rebuilt on a new node takes its members back as they were (issue 13), and a member whose
socket went silent keeps its place for a shorter while than one whose socket closed."""

from __future__ import annotations

from signaling import (
    ConnectionId,
    Effect,
    Join,
    Lobby,
    PeerId,
    PeerJoined,
    PeerLeft,
    Principal,
    Role,
    Waiting,
    Welcome,
)
from tests.signaling.harness import Harness, audits, of_type, to, welcome_of


def restore(
    h: Harness,
    conn: str,
    peer: str,
    token: str,
    *,
    admitted: bool = True,
    role: Role = Role.TRAINEE,
    subject: str | None = None,
) -> list[Effect]:
    principal = Principal(
        subject=subject or f"user-{conn[0]}", role=role, display_name=f"Name {conn}"
    )
    return list(
        h.room.restore(
            ConnectionId(conn),
            principal,
            Join(),
            h.now,
            peer=PeerId(peer),
            token=token,
            admitted=admitted,
        )
    )


def test_members_restored_keep_their_peer_ids_and_tokens() -> None:
    h = Harness()
    first = restore(h, "m", "old-mentor", "tok-m", role=Role.MENTOR)
    welcome = welcome_of(first, "m")
    assert (welcome.peer, welcome.resume, welcome.resumed) == ("old-mentor", "tok-m", True)
    assert "restore" in audits(first)
    second = restore(h, "t", "old-trainee", "tok-t")
    assert welcome_of(second, "t").peers[0].id == "old-mentor"
    # The mentor already here hears of the other as a newcomer, with its old id.
    [(_, joined)] = of_type(second, PeerJoined)
    assert joined.peer.id == "old-trainee"
    # The old token still resumes the member.
    resumed = h.join("t2", subject="user-t", resume="tok-t")
    assert welcome_of(resumed, "t2").peer == "old-trainee"


def test_a_member_restored_from_the_lobby_waits_there_again() -> None:
    h = Harness()
    restore(h, "m", "old-mentor", "tok-m", role=Role.MENTOR)
    effects = restore(h, "g", "old-guest", "tok-g", admitted=False)
    assert to(effects, "g") == [Waiting(resume="tok-g")]
    [(_, lobby)] = of_type(effects, Lobby)
    assert [p.id for p in lobby.waiting] == ["old-guest"]


def test_a_restore_the_room_cannot_honour_is_an_ordinary_join() -> None:
    h = Harness()
    h.join("m", Role.MENTOR)  # peer p1, token-1
    # The same person, known here already: a take-over, not a second member.
    effects = restore(h, "m2", "elsewhere", "tok-x", subject="user-m")
    assert welcome_of(effects, "m2").peer == "p1"
    # A peer id already in use by someone else: a fresh join with a new id.
    effects = restore(h, "t", "p1", "tok-t")
    assert welcome_of(effects, "t").peer != "p1"
    # An ended room refuses, as it refuses any join.
    h.room.end()
    assert audits(restore(h, "u", "old-u", "tok-u")) == []


def test_a_silent_member_keeps_its_place_for_the_shorter_grace() -> None:
    h = Harness()
    h.join("m", Role.MENTOR)
    h.join("t")
    assert h.room.disconnect(ConnectionId("t"), h.now, grace=10.0) == []
    assert h.room.next_expiry() == h.now + 10.0
    h.now += 9.9
    assert h.room.expire(h.now) == []
    h.now += 0.1
    [(_, left)] = of_type(h.room.expire(h.now), PeerLeft)
    assert left.reason == "timeout"
    # A grace longer than the room's is capped at the room's.
    h.join("u")
    h.room.disconnect(ConnectionId("u"), h.now, grace=1e9)
    assert h.room.next_expiry() == h.now + 30.0
    # Coming back clears the shorter grace: a later close gets the room's.
    assert isinstance(to(h.join("u2", subject="user-u"), "u2")[0], Welcome)
    h.room.disconnect(ConnectionId("u2"), h.now)
    assert h.room.next_expiry() == h.now + 30.0
