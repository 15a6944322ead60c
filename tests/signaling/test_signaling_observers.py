"""Observers the trainee does not see (issue 11): when the session says so, a silent observer is
left out of what trainees and guests hear about the room (`welcome.peers`, `peer-joined`,
`peer-left`, `peer-state`), never out of what a mentor (or another supervisor) hears; and the
setting can change during the call."""

from __future__ import annotations

from signaling import (
    Leave,
    MediaMode,
    ObserversHidden,
    PeerJoined,
    PeerLeft,
    PeerStateChanged,
    Role,
    StateUpdate,
)
from tests.signaling.harness import Harness, audits, of_type, recipients, to, welcome_of

QUIET = StateUpdate(audio=False, video=False, screen=False)


def hidden() -> Harness:
    return Harness(MediaMode.ROUTED, observers_hidden=True)


def peers_in_welcome(h: Harness, conn: str, role: Role = Role.TRAINEE) -> list[str]:
    return [p.id for p in welcome_of(h.join(conn, role), conn).peers]


def test_a_hidden_observer_is_never_announced_to_the_trainee_or_a_guest() -> None:
    h = hidden()
    h.join("m", Role.MENTOR)
    h.join("t")
    h.join("g", subject="guest-g")
    effects = h.join("s", Role.SUPERVISOR, observer=True)
    # The mentor is told; the trainee and the guest are not.
    assert recipients(effects, PeerJoined) == {"m"}
    # The observer itself sees everyone.
    assert [p.id for p in welcome_of(effects, "s").peers] == ["p1", "p2", "p3"]
    # Its state and its leaving reach only those who saw it.
    assert recipients(h.handle("s", QUIET), PeerStateChanged) == {"m"}
    assert recipients(h.handle("s", Leave()), PeerLeft) == {"m"}


def test_a_newcomer_trainee_is_not_told_of_a_hidden_observer_but_a_supervisor_is() -> None:
    h = hidden()
    h.join("m", Role.MENTOR)
    h.join("s", Role.SUPERVISOR, observer=True)
    h.handle("s", QUIET)
    effects = h.join("t")
    assert [p.id for p in welcome_of(effects, "t").peers] == ["p1"]
    assert not any(isinstance(m, PeerStateChanged) and m.peer == "p2" for m in to(effects, "t"))
    assert peers_in_welcome(h, "u", Role.SUPERVISOR) == ["p1", "p2", "p3"]


def test_a_hidden_observer_taking_over_from_another_tab_stays_hidden() -> None:
    h = hidden()
    h.join("m", Role.MENTOR)
    h.join("t")
    effects = h.join("s", Role.SUPERVISOR, observer=True, subject="sup")
    assert recipients(effects, PeerJoined) == {"m"}
    effects = h.join("s2", Role.SUPERVISOR, observer=True, subject="sup")
    assert recipients(effects, PeerLeft) == {"m"}
    assert recipients(effects, PeerJoined) == {"m"}


def test_observers_are_seen_by_everyone_unless_the_session_hides_them() -> None:
    h = Harness(MediaMode.ROUTED)
    h.join("m", Role.MENTOR)
    h.join("t")
    effects = h.join("s", Role.SUPERVISOR, observer=True)
    assert recipients(effects, PeerJoined) == {"m", "t"}
    # A member who is not an observer is never hidden, whatever the setting.
    h = hidden()
    h.join("m", Role.MENTOR)
    h.join("t")
    assert recipients(h.join("u"), PeerJoined) == {"m", "t"}


def test_changing_the_setting_during_the_call_hides_or_shows_the_observer_at_once() -> None:
    h = Harness(MediaMode.ROUTED)
    h.join("m", Role.MENTOR)
    h.join("t")
    h.join("s", Role.SUPERVISOR, observer=True)
    h.handle("s", QUIET)
    h.drop("t")  # a lost member hears nothing now; its resume brings the room as it is then
    effects = h.room.hide_observers(True)
    assert audits(effects) == ["observers-hidden"]
    # The mentor sees the observer still and the trainee is away: only the observer is told.
    assert [(c, type(m)) for c, m in of_type(effects, object)] == [("s", ObserversHidden)]
    h.join("t2", resume="token-2")
    effects = h.room.hide_observers(False)
    assert [type(m) for m in to(effects, "t2")] == [PeerJoined, PeerStateChanged]
    assert to(effects, "m") == []
    assert to(effects, "s") == [ObserversHidden(hidden=False)]
    effects = h.room.hide_observers(True)
    assert [(c, m.peer) for c, m in of_type(effects, PeerLeft)] == [("t2", "p3")]
    assert h.room.hide_observers(True) == []  # no change, nothing said
    h.handle("s", Leave())
    h.join("o", Role.SUPERVISOR, observer=True)  # has said nothing of its media yet
    effects = h.room.hide_observers(False)
    assert audits(effects) == ["observers-hidden"]
    assert [(c, type(m)) for c, m in of_type(effects, PeerJoined)] == [("t2", PeerJoined)]
    assert to(effects, "t2") == [PeerJoined(h.room.members()[-1])]


def test_each_observer_is_told_every_change_of_the_setting_and_nobody_else_is() -> None:
    # Their page says beside the chat who reads what they write; a trainee or a guest must not
    # learn that observers may be unseen, and the mentor's side sees observers either way.
    h = Harness(MediaMode.ROUTED)
    h.join("m", Role.MENTOR)
    h.join("t")
    h.join("g", subject="guest-g")
    h.join("u", Role.SUPERVISOR)  # taking part, not observing
    h.join("s", Role.SUPERVISOR, observer=True)
    h.join("o", Role.SUPERVISOR, observer=True, subject="other-supervisor")
    h.join("w", Role.SUPERVISOR, observer=True, lobby=True)  # not admitted: hears no room traffic
    for hidden_now in (True, False, True):
        effects = h.room.hide_observers(hidden_now)
        assert recipients(effects, ObserversHidden) == {"s", "o"}
        assert {m for _, m in of_type(effects, ObserversHidden)} == {ObserversHidden(hidden_now)}
        # The same setting again changes nothing: nobody hears anything.
        assert h.room.hide_observers(hidden_now) == []
    # An observer whose connection dropped is not told; it reads the session when it is back.
    h.drop("o")
    assert recipients(h.room.hide_observers(False), ObserversHidden) == {"s"}
