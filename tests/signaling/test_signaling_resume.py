"""Dropped connections, resume within the grace window, replacement (4409), expiry and the end
of the session (4410)."""

from __future__ import annotations

from signaling import (
    CLOSE_ENDED,
    CLOSE_REPLACED,
    DEFAULT_GRACE,
    Admit,
    Audit,
    Chat,
    ChatPosted,
    ConnectionId,
    IceServer,
    Lobby,
    Peer,
    PeerId,
    PeerJoined,
    PeerLeft,
    PeerStateChanged,
    Ping,
    Role,
    StateUpdate,
    Waiting,
)
from tests.signaling.harness import (
    Harness,
    audits,
    closes,
    of_type,
    only,
    recipients,
    to,
    welcome_of,
)

TURN = (IceServer(urls=("turn:turn.example.org",), username="u", credential="c"),)


def test_a_dropped_member_is_not_announced_and_resumes_as_itself(room: Harness) -> None:
    token = "token-2"
    room.drop("t")
    assert room.room.members()[1].id == "p2"  # still a member
    assert room.room.next_expiry() == room.now + DEFAULT_GRACE
    room.now += DEFAULT_GRACE - 0.5
    effects = room.join("t2", resume=token, name="ignored", ice=TURN)
    welcome = welcome_of(effects, "t2")
    assert (welcome.peer, welcome.resume, welcome.resumed) == ("p2", token, True)
    assert welcome.display_name == "Name t"  # the membership is restored, not renamed
    assert welcome.ice_servers == TURN  # fresh credentials from the shell
    assert [p.id for p in welcome.peers] == ["p1", "p3"]
    assert to(effects, "m") == to(effects, "s") == []
    assert audits(effects) == ["resume"]
    assert [p.id for p in room.room.members()] == ["p1", "p2", "p3"]
    assert room.room.connection_of(PeerId("p2")) == "t2"
    assert room.room.next_expiry() is None


def test_a_resumed_member_catches_up_with_the_room(room: Harness) -> None:
    room.drop("t")
    room.handle("m", StateUpdate(audio=False, video=False, screen=True))
    room.join("x")  # joined while t was away: t missed the peer-joined
    room.handle("x", Chat(text="t will not see this"))
    effects = room.join("t2", resume="token-2")
    assert [p.id for p in welcome_of(effects, "t2").peers] == ["p1", "p3", "p4"]
    assert to(effects, "t2")[1:] == [PeerStateChanged(PeerId("p1"), False, False, True)]


def test_messages_while_away_are_not_delivered(room: Harness) -> None:
    room.drop("t")
    effects = room.handle("m", Chat(text="hello"))
    assert recipients(effects, ChatPosted) == {"m", "s"}


def test_a_dropped_mentor_gets_the_lobby_again_on_resume(room: Harness) -> None:
    room.drop("m")
    effects = room.join("g", lobby=True)
    assert to(effects, "m") == []
    effects = room.join("m2", Role.MENTOR, subject="user-m", resume="token-1")
    guest = Peer(PeerId("p4"), Role.TRAINEE, "Name g")
    assert to(effects, "m2")[-1] == Lobby(waiting=(guest,))


def test_a_guest_resumes_into_the_lobby(room: Harness) -> None:
    room.join("g", lobby=True)
    room.drop("g")
    assert room.room.lobby() != ()  # still waiting during the grace window
    effects = room.join("g2", subject="user-g", resume="token-4")
    assert to(effects, "g2") == [Waiting(resume="token-4")]
    assert to(effects, "m") == []
    assert room.room.peer_of(ConnectionId("g2")) == "p4"


def test_a_guest_admitted_while_away_is_welcomed_when_it_returns(room: Harness) -> None:
    room.join("g", lobby=True)
    room.drop("g")
    effects = room.handle("m", Admit(peer=PeerId("p4")))
    assert recipients(effects, PeerJoined) == {"m", "t", "s"}
    effects = room.join("g2", subject="user-g", resume="token-4")
    assert welcome_of(effects, "g2").resumed
    assert [p.id for p in welcome_of(effects, "g2").peers] == ["p1", "p2", "p3"]


def test_after_the_grace_window_the_others_hear_timeout(room: Harness) -> None:
    room.drop("t")
    room.now += DEFAULT_GRACE - 0.001
    assert room.room.expire(room.now) == []
    room.now += 0.001
    effects = room.room.expire(room.now)
    left = PeerLeft(peer=PeerId("p2"), reason="timeout")
    assert of_type(effects, PeerLeft) == [("m", left), ("s", left)]
    assert audits(effects) == ["leave"]
    assert [p.id for p in room.room.members()] == ["p1", "p3"]


def test_an_expired_guest_leaves_the_lobby(room: Harness) -> None:
    room.join("g", lobby=True)
    room.drop("g")
    effects = room.room.expire(room.now + DEFAULT_GRACE)
    assert to(effects, "m") == [Lobby(waiting=())]
    assert recipients(effects, PeerLeft) == set()


def test_a_late_resume_is_a_fresh_join_even_before_expire_ran(room: Harness) -> None:
    room.drop("t")
    room.now += DEFAULT_GRACE
    effects = room.join("t2", resume="token-2")
    # Expiry first, so the others never see two of the same person.
    assert [type(m).__name__ for m in to(effects, "m")] == ["PeerLeft", "PeerJoined"]
    welcome = welcome_of(effects, "t2")
    assert (welcome.peer, welcome.resumed, welcome.resume) == ("p4", False, "token-4")


def test_unknown_tokens_are_a_fresh_join(room: Harness) -> None:
    effects = room.join("x", resume="no-such-token")
    assert welcome_of(effects, "x").peer == "p4"
    assert audits(effects) == ["join"]


def test_someone_elses_token_is_refused_and_audited(room: Harness) -> None:
    effects = room.join("x", subject="intruder", resume="token-2")
    assert welcome_of(effects, "x").peer == "p4"
    assert audits(effects) == ["resume-rejected", "join"]
    assert only(effects, Audit)[0].detail == {"subject": "intruder"}
    assert room.room.connection_of(PeerId("p2")) == "t"  # the real one is untouched


def test_a_newer_connection_replaces_a_live_one(room: Harness) -> None:
    effects = room.join("t2", resume="token-2")
    assert closes(effects) == [("t", CLOSE_REPLACED)]
    assert welcome_of(effects, "t2").peer == "p2"
    assert to(effects, "t") == []
    assert to(effects, "m") == []
    # The old socket's last frames and its close are ignored.
    assert room.handle("t", Ping(id="1")) == []
    assert room.room.disconnect(ConnectionId("t"), room.now) == []
    assert room.room.connection_of(PeerId("p2")) == "t2"
    assert room.room.next_expiry() is None


def test_end_closes_everyone_and_refuses_later_joins(room: Harness) -> None:
    room.join("g", lobby=True)
    room.drop("s")
    effects = room.room.end()
    assert sorted(closes(effects)) == [
        ("g", CLOSE_ENDED),
        ("m", CLOSE_ENDED),
        ("t", CLOSE_ENDED),
    ]
    assert len(effects) == 3
    assert room.room.ended
    assert room.room.is_empty
    assert closes(room.join("x")) == [("x", CLOSE_ENDED)]
    assert closes(room.join("s2", resume="token-3")) == [("s2", CLOSE_ENDED)]
    assert room.handle("m", Ping(id="1")) == []


def test_an_empty_room_can_be_dropped(h: Harness) -> None:
    assert h.room.is_empty
    h.join("t")
    assert not h.room.is_empty
    h.drop("t")
    assert not h.room.is_empty
    h.room.expire(h.now + DEFAULT_GRACE)
    assert h.room.is_empty
