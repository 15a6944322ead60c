"""Routed mode (DESIGN.md §3): the room names the `media` peer's work as effects for the shell's
media driver: who joins its media (and who only observes), each signal addressed to `media`, who
leaves, and the end. A direct room never names the `media` peer."""

from __future__ import annotations

from signaling import (
    MEDIA_PEER,
    Admit,
    Audit,
    Leave,
    MediaEnd,
    MediaJoin,
    MediaLeave,
    MediaMode,
    MediaModeChanged,
    MediaSignal,
    PeerId,
    PeerJoined,
    RecordingCommand,
    Role,
    SessionDescription,
    SessionId,
    Signal,
)
from signaling.messages import IceCandidate
from tests.signaling.harness import Harness, error_code, of_type, only, welcome_of

S = SessionId("s1")
ANSWER = SessionDescription(type="answer", sdp="v=0\r\n")


def routed() -> Harness:
    return Harness(MediaMode.ROUTED)


def test_every_admitted_member_joins_the_media_peer_after_its_welcome() -> None:
    h = routed()
    effects = h.join("m", Role.MENTOR)
    assert welcome_of(effects, "m").media_mode is MediaMode.ROUTED
    assert only(effects, MediaJoin) == [MediaJoin(S, PeerId("p1"), observer=False)]
    # The welcome goes out before the media peer's offer can.
    assert effects.index(only(effects, MediaJoin)[0]) > 0
    effects = h.join("s", Role.SUPERVISOR, observer=True)
    assert only(effects, MediaJoin) == [MediaJoin(S, PeerId("p2"), observer=True)]
    # Everyone sees who observes: the mentor is never kept from knowing.
    [(_, joined)] = of_type(effects, PeerJoined)
    assert joined.peer.observer


def test_a_lobby_guest_joins_the_media_only_once_admitted() -> None:
    h = routed()
    h.join("m", Role.MENTOR)
    assert only(h.join("g", lobby=True), MediaJoin) == []
    effects = h.handle("m", Admit(peer=PeerId("p2")))
    assert only(effects, MediaJoin) == [MediaJoin(S, PeerId("p2"), observer=False)]


def test_signals_to_media_go_to_the_driver_never_to_a_member() -> None:
    h = routed()
    h.join("m", Role.MENTOR)
    candidate = IceCandidate(candidate="candidate:1 1 udp 1 127.0.0.1 9 typ host")
    effects = h.handle("m", Signal(to=MEDIA_PEER, description=ANSWER))
    assert effects == [MediaSignal(S, PeerId("p1"), ANSWER, None)]
    effects = h.handle("m", Signal(to=MEDIA_PEER, candidate=candidate))
    assert effects == [MediaSignal(S, PeerId("p1"), None, candidate)]


def test_a_direct_room_has_no_media_peer() -> None:
    h = Harness()
    effects = h.join("m", Role.MENTOR)
    assert only(effects, MediaJoin) == []
    effects = h.handle("m", Signal(to=MEDIA_PEER, description=ANSWER))
    assert error_code(effects, "m") == "unknown-peer"
    assert only(h.handle("m", Leave()), MediaLeave) == []
    assert only(h.room.end(), MediaEnd) == []


def test_leaving_and_expiring_free_the_members_media() -> None:
    h = routed()
    h.join("m", Role.MENTOR)
    h.join("t")
    assert only(h.handle("t", Leave()), MediaLeave) == [MediaLeave(S, PeerId("p2"))]
    h.drop("m")
    h.now += 60
    assert only(h.room.expire(h.now), MediaLeave) == [MediaLeave(S, PeerId("p1"))]


def test_a_resumed_or_taken_over_member_gets_a_fresh_media_connection() -> None:
    h = routed()
    h.join("m", Role.MENTOR)
    h.join("t")
    h.drop("t")
    effects = h.join("t2", resume="token-2")
    assert only(effects, MediaJoin) == [MediaJoin(S, PeerId("p2"), observer=False)]
    effects = h.join("t3")  # the same person from another tab, without the token
    assert only(effects, MediaJoin) == [MediaJoin(S, PeerId("p2"), observer=False)]


def test_the_end_of_a_routed_session_ends_its_media() -> None:
    h = routed()
    h.join("m", Role.MENTOR)
    assert only(h.room.end(), MediaEnd) == [MediaEnd(S)]


# --- "auto": direct for two, routed from a third member, an observer or a recording ----------


def auto() -> Harness:
    return Harness(auto_route=True)


def test_a_third_member_switches_the_room_to_routed_make_before_break() -> None:
    h = auto()
    h.join("m", Role.MENTOR)
    effects = h.join("t")
    assert only(effects, MediaJoin) == []
    assert h.room.media_mode is MediaMode.DIRECT
    effects = h.join("u")
    assert h.room.media_mode is MediaMode.ROUTED
    # The two already here hear `media-mode` and each gets a media connection; their direct
    # connection stays until the page drops it. The newcomer's welcome says routed.
    assert {c for c, _ in of_type(effects, MediaModeChanged)} == {"m", "t"}
    assert welcome_of(effects, "u").media_mode is MediaMode.ROUTED
    assert [j.peer for j in only(effects, MediaJoin)] == ["p1", "p2", "p3"]
    assert "media-mode" in [a.action for a in only(effects, Audit)]
    # Routed for good: later arrivals just join the media peer.
    h.handle("u", Leave())
    effects = h.join("v")
    assert of_type(effects, MediaModeChanged) == []
    assert len(only(effects, MediaJoin)) == 1


def test_an_observer_switches_even_a_room_of_two() -> None:
    h = auto()
    h.join("m", Role.MENTOR)
    effects = h.join("s", Role.SUPERVISOR, observer=True)
    assert h.room.media_mode is MediaMode.ROUTED
    assert only(effects, MediaJoin) == [
        MediaJoin(S, PeerId("p1"), observer=False),
        MediaJoin(S, PeerId("p2"), observer=True),
    ]


def test_a_recording_switches_the_room_and_an_explicit_direct_room_never_switches() -> None:
    h = auto()
    h.join("m", Role.MENTOR)
    h.join("t")
    effects = h.handle("m", RecordingCommand(action="start"))
    assert h.room.media_mode is MediaMode.ROUTED
    assert len(only(effects, MediaJoin)) == 2
    assert only(h.handle("m", RecordingCommand(action="start")), MediaJoin) == []
    direct = Harness()
    for conn in ("m", "t", "u"):
        direct.join(conn, Role.MENTOR if conn == "m" else Role.TRAINEE)
    direct.handle("m", RecordingCommand(action="start"))
    assert direct.room.media_mode is MediaMode.DIRECT
