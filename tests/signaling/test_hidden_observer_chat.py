"""What a hidden observer says stays hidden (issue 11): a chat line from an observer whom the
session hides from trainees and guests *when it is said* reaches only those who see that observer
(and comes back to the observer, marked), is stored with that audience, and a later `chat-history`
gives it to the mentor's side only, whatever the setting has become."""

from __future__ import annotations

from signaling import (
    Audit,
    Chat,
    ChatPosted,
    ConnectionId,
    MediaMode,
    Role,
    SendChatHistory,
    StoreChat,
)
from tests.signaling.harness import Harness, of_type, only, recipients

MENTORS_SIDE = ("everyone", "mentors")


def room(*, hidden: bool) -> Harness:
    """Mentor "m" (p1), trainee "t" (p2), guest "g" (p3), observing supervisor "s" (p4)."""
    h = Harness(MediaMode.ROUTED, observers_hidden=hidden)
    h.join("m", Role.MENTOR)
    h.join("t")
    h.join("g", subject="guest-g")
    h.join("s", Role.SUPERVISOR, observer=True)
    return h


def test_a_hidden_observers_line_reaches_only_those_who_see_them() -> None:
    h = room(hidden=True)
    h.join("u", Role.SUPERVISOR)  # a supervisor taking part, not observing
    effects = h.handle("s", Chat(text="Ask about radiation"))
    # The trainee and the guest get nothing; the mentor and the other supervisor do, and the
    # observer's own page gets it back, marked as said for the mentor's side only.
    assert recipients(effects, ChatPosted) == {"m", "s", "u"}
    assert {posted.audience for _, posted in of_type(effects, ChatPosted)} == {"mentors"}
    [stored] = only(effects, StoreChat)
    assert (stored.text, stored.audience) == ("Ask about radiation", "mentors")


def test_everyone_else_in_that_room_is_heard_by_everyone() -> None:
    h = room(hidden=True)
    effects = h.handle("t", Chat(text="Is it sharp?"))
    assert recipients(effects, ChatPosted) == {"m", "t", "g", "s"}
    assert {posted.audience for _, posted in of_type(effects, ChatPosted)} == {"everyone"}
    assert only(effects, StoreChat)[0].audience == "everyone"


def test_an_observer_shown_to_everyone_is_heard_by_everyone() -> None:
    h = room(hidden=False)
    effects = h.handle("s", Chat(text="Nice history"))
    assert recipients(effects, ChatPosted) == {"m", "t", "g", "s"}
    assert only(effects, StoreChat)[0].audience == "everyone"
    # Hidden during the call: from then on the observer's lines are for the mentor's side.
    h.room.hide_observers(True)
    effects = h.handle("s", Chat(text="Now hidden"))
    assert recipients(effects, ChatPosted) == {"m", "s"}
    assert only(effects, StoreChat)[0].audience == "mentors"


def test_the_history_a_member_gets_is_what_they_may_read_whatever_the_setting_now() -> None:
    h = room(hidden=True)
    h.handle("s", Chat(text="Ask about radiation"))
    # The mentor shows the observer afterwards: the line said while hidden stays hidden.
    h.room.hide_observers(False)
    for conn, role, resume, audiences in (
        ("t2", Role.TRAINEE, "token-2", ("everyone",)),
        ("g2", Role.TRAINEE, "token-3", ("everyone",)),
        ("m2", Role.MENTOR, "token-1", MENTORS_SIDE),
        ("s2", Role.SUPERVISOR, "token-4", MENTORS_SIDE),
    ):
        subject = "guest-g" if conn == "g2" else None
        h.drop(conn[0])
        effects = h.join(conn, role, resume=resume, subject=subject, observer=conn == "s2")
        assert only(effects, SendChatHistory) == [SendChatHistory(ConnectionId(conn), audiences)]


def test_an_observer_who_joins_hidden_is_audited_as_hidden() -> None:
    # The record leaves such a member out for trainees and guests (server/routes/record.py).
    h = Harness(MediaMode.ROUTED, observers_hidden=True)
    h.join("m", Role.MENTOR)
    hidden = [a for a in h.join("s", Role.SUPERVISOR, observer=True) if isinstance(a, Audit)]
    assert [(a.action, a.detail.get("hidden")) for a in hidden] == [("join", "true")]
    shown = Harness(MediaMode.ROUTED, observers_hidden=False)
    shown.join("m", Role.MENTOR)
    joined = [a for a in shown.join("s", Role.SUPERVISOR, observer=True) if isinstance(a, Audit)]
    assert [(a.action, "hidden" in a.detail) for a in joined] == [("join", False)]


def test_a_line_stored_after_the_room_moved_reaches_whoever_here_may_read_it() -> None:
    # Said on the room's previous node, stored there after the move: its audience came with it.
    h = room(hidden=False)
    h.join("w", subject="waiting-guest", lobby=True)  # in the lobby: hears no chat
    late = ChatPosted(from_="p9", text="Said before the move", at=1, name="Sam", id="c1")
    assert recipients(h.room.chat_stored_late(late), ChatPosted) == {"m", "t", "g", "s"}
    hidden = ChatPosted(
        from_="p4", text="Ask about radiation", at=2, name="Sue", id="c2", audience="mentors"
    )
    assert recipients(h.room.chat_stored_late(hidden), ChatPosted) == {"m", "s"}
