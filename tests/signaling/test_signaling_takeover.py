"""One member per person (issue 9, dead end 2): a second tab takes the membership over (4409 to
the first), the others renegotiate with it, and the first tab can take it back. Also what follows
every welcome (the stored chat), the feedback notice, and the reason a mentor's denial gives."""

from __future__ import annotations

from signaling import (
    CLOSE_NOT_ALLOWED,
    CLOSE_REPLACED,
    Admit,
    Close,
    ConnectionId,
    Deny,
    FeedbackNotice,
    Join,
    Lobby,
    PeerId,
    PeerJoined,
    PeerLeft,
    PeerStateChanged,
    Ping,
    Pong,
    Principal,
    Role,
    Send,
    SendChatHistory,
    StateUpdate,
    Waiting,
    Welcome,
)
from signaling.close_codes import REASON_DENIED, close_name
from tests.signaling.harness import Harness, audits, closes, of_type, only, to, welcome_of


def test_a_second_tab_takes_the_member_over(room: Harness) -> None:
    room.handle("t", StateUpdate(audio=True, video=True, screen=False))
    # "t2" is the same person as "t" (harness: same first letter), with no resume token.
    effects = room.join("t2")
    assert closes(effects) == [("t", CLOSE_REPLACED)]
    welcome = welcome_of(effects, "t2")
    assert (welcome.peer, welcome.resumed) == ("p2", True)
    assert welcome.resume != "token-2"  # the old tab's token no longer resumes
    assert [p.id for p in welcome.peers] == ["p1", "p3"]
    # The others drop their connection to the old tab and wait for the new tab's offer.
    for other in ("m", "s"):
        left, joined = to(effects, other)
        assert left == PeerLeft(peer=PeerId("p2"), reason="replaced")
        assert isinstance(joined, PeerJoined)
        assert joined.peer.id == "p2"
    assert to(effects, "t") == []
    assert audits(effects) == ["take-over"]
    assert [p.id for p in room.room.members()] == ["p1", "p2", "p3"]
    assert room.room.peer_of(ConnectionId("t")) is None
    assert room.handle("t", Ping(id="late")) == []


def test_the_old_tab_takes_it_back_by_joining_again(room: Harness) -> None:
    new_token = welcome_of(room.join("t2"), "t2").resume
    room.drop("t")  # the replaced socket's close changes nothing
    # The old tab rejoins with the token it still holds: a takeover, not a quiet resume.
    effects = room.join("t3", resume="token-2")
    assert closes(effects) == [("t2", CLOSE_REPLACED)]
    assert welcome_of(effects, "t3").peer == "p2"
    assert welcome_of(effects, "t3").resume not in ("token-2", new_token)
    assert [type(m).__name__ for m in to(effects, "m")] == ["PeerLeft", "PeerJoined"]
    assert len(room.room.members()) == 3


def test_the_current_tab_resumes_quietly(room: Harness) -> None:
    token = welcome_of(room.join("t2"), "t2").resume
    effects = room.join("t3", resume=token)
    assert closes(effects) == [("t2", CLOSE_REPLACED)]
    assert to(effects, "m") == to(effects, "s") == []
    assert audits(effects) == ["resume"]


def test_a_member_in_its_grace_window_is_taken_over_without_a_close(room: Harness) -> None:
    room.drop("t")
    effects = room.join("t2")
    assert only(effects, Close) == []
    assert welcome_of(effects, "t2").peer == "p2"
    assert [type(m).__name__ for m in to(effects, "s")] == ["PeerLeft", "PeerJoined"]
    assert room.room.next_expiry() is None


def test_the_new_tab_announces_its_own_media_state(room: Harness) -> None:
    room.handle("t", StateUpdate(audio=True, video=False, screen=False))
    room.join("t2")
    effects = room.join("x")
    assert of_type(effects, PeerStateChanged) == []


def test_a_waiting_guest_keeps_one_lobby_entry(room: Harness) -> None:
    room.join("g", lobby=True)
    effects = room.join("g2", lobby=True)
    assert closes(effects) == [("g", CLOSE_REPLACED)]
    [waiting] = to(effects, "g2")
    assert isinstance(waiting, Waiting)
    assert waiting.resume != "token-4"
    assert to(effects, "m") == []  # the mentor's lobby did not change
    assert [p.id for p in room.room.lobby()] == ["p4"]
    effects = room.handle("m", Admit(peer=PeerId("p4")))
    assert isinstance(to(effects, "g2")[0], Welcome)
    assert to(effects, "g") == []


def test_every_welcome_is_followed_by_the_stored_chat(h: Harness) -> None:
    effects = h.join("m", Role.MENTOR)
    [welcome] = [i for i, e in enumerate(effects) if isinstance(e, Send) and e.to == "m"][:1]
    assert isinstance(to(effects, "m")[0], Welcome)
    assert effects[welcome + 1] == SendChatHistory(ConnectionId("m"), ("everyone", "mentors"))
    h.join("g", lobby=True)
    assert SendChatHistory(ConnectionId("g")) in h.handle("m", Admit(peer=PeerId("p2")))
    h.drop("m")
    assert SendChatHistory(ConnectionId("m2"), ("everyone", "mentors")) in h.join(
        "m2", Role.MENTOR, resume="token-1"
    )
    assert SendChatHistory(ConnectionId("m3"), ("everyone", "mentors")) in h.join("m3", Role.MENTOR)


def test_the_lobby_gets_no_chat_history(h: Harness) -> None:
    h.join("m", Role.MENTOR)
    assert only(h.join("g", lobby=True), SendChatHistory) == []


def test_feedback_is_announced_to_its_trainee_only(room: Harness) -> None:
    room.join("g", lobby=True)
    room.handle("m", Admit(peer=PeerId("p4")))
    effects = room.room.feedback_submitted("f1", "user-t")
    assert of_type(effects, FeedbackNotice) == [("t", FeedbackNotice("f1", "submitted"))]


def test_a_trainee_who_came_by_invite_hears_of_feedback_as_a_guest(h: Harness) -> None:
    h.join("m", Role.MENTOR)
    h.room.join(ConnectionId("g"), _guest("guest-g"), Join(), h.now)
    h.room.join(ConnectionId("w"), _guest("guest-w"), Join(), h.now)
    h.handle("m", Admit(peer=PeerId("p2")))
    effects = h.room.feedback_submitted("f1", "a-trainee-account")
    # Nobody is signed in to the trainee's account: the admitted guests are told (the waiting
    # one hears nothing of the room; the mentor is not the form's trainee).
    assert [conn for conn, _ in of_type(effects, FeedbackNotice)] == ["g"]


def test_a_denial_says_it_was_a_mentor(room: Harness) -> None:
    room.join("g", lobby=True)
    effects = room.handle("m", Deny(peer=PeerId("p4")))
    [close] = only(effects, Close)
    assert (close.to, close.code, close.reason) == ("g", CLOSE_NOT_ALLOWED, REASON_DENIED)
    assert close_name(close.code, close.reason) == "denied"


def test_close_names_tell_the_4403s_apart() -> None:
    assert close_name(4403, "origin") == "origin"
    assert close_name(4403, "denied") == "denied"
    assert close_name(4403, "only the session's people may join") == "not-allowed"
    assert close_name(4403) == "not-allowed"
    assert close_name(4409, "origin") == "replaced"
    assert close_name(4999) == "unknown"


def test_pings_still_answer_after_a_takeover(room: Harness) -> None:
    room.join("t2")
    assert to(room.handle("t2", Ping(id="1")), "t2") == [Pong(id="1")]
    assert isinstance(to(room.join("m2", Role.MENTOR), "m2")[-1], Lobby)


def _guest(subject: str) -> Principal:
    return Principal(subject, Role.TRAINEE, "Guest", needs_admission=True, guest=True)
