"""The room's rules one by one (DESIGN.md §2): admission and lobby, relay, roles, chat, marks.

Fixtures (conftest.py): `h` is an empty room's harness; `room` has a mentor "m" (peer p1), a
trainee "t" (p2) and a supervisor "s" (p3), all admitted.
"""

from __future__ import annotations

import pytest

from signaling import (
    CLOSE_NORMAL,
    CLOSE_NOT_ALLOWED,
    MEDIA_PEER,
    Admit,
    Audit,
    Chat,
    ChatPosted,
    ClientMessage,
    ConnectionId,
    Consent,
    Deny,
    IceCandidate,
    IceServer,
    Join,
    Leave,
    Lobby,
    Mark,
    MarkAdded,
    MediaMode,
    Peer,
    PeerId,
    PeerJoined,
    PeerLeft,
    PeerStateChanged,
    Ping,
    Pong,
    Principal,
    RecordingCommand,
    RecordingState,
    RecordingStatus,
    Role,
    Room,
    SessionDescription,
    SessionId,
    Signal,
    SignalRelay,
    StateUpdate,
    StoreChat,
    StoreMark,
    Waiting,
    Welcome,
)
from tests.signaling.harness import (
    START,
    START_WALL,
    Harness,
    audits,
    by_connection,
    closes,
    error_code,
    of_type,
    only,
    recipients,
    send,
    to,
    welcome_of,
)

OFFER = SessionDescription(type="offer", sdp="v=0\r\n")
STUN = (IceServer(urls=("stun:stun.example.org:3478",)),)
MENTOR = Peer(PeerId("p1"), Role.MENTOR, "Name m")
TRAINEE = Peer(PeerId("p2"), Role.TRAINEE, "Name t")
GUEST = Peer(PeerId("p4"), Role.TRAINEE, "Name g")

# --- joining ---------------------------------------------------------------------------------


def test_first_mentor_gets_welcome_and_the_lobby(h: Harness) -> None:
    effects = h.join("m", Role.MENTOR, ice=STUN)
    assert to(effects, "m") == [
        Welcome(
            peer=PeerId("p1"),
            role=Role.MENTOR,
            display_name="Name m",
            peers=(),
            ice_servers=STUN,
            media_mode=MediaMode.DIRECT,
            resume="token-1",
            recording=RecordingStatus(state=RecordingState.OFF, consents=()),
        ),
        Lobby(waiting=()),
    ]
    assert audits(effects) == ["join"]
    assert h.room.members() == (MENTOR,)


def test_newcomer_is_welcomed_with_the_others_and_announced_to_them(h: Harness) -> None:
    h.join("m", Role.MENTOR)
    effects = h.join("t", Role.TRAINEE, name="Tess")
    assert welcome_of(effects, "t").peers == (MENTOR,)
    assert welcome_of(effects, "t").display_name == "Tess"  # `join` may choose the name
    assert to(effects, "m") == [PeerJoined(Peer(PeerId("p2"), Role.TRAINEE, "Tess"))]
    assert to(effects, "t") == [welcome_of(effects, "t")]  # trainees never see the lobby


def test_guest_waits_in_the_lobby_and_hears_nothing_of_the_room(room: Harness) -> None:
    effects = room.join("g", Role.TRAINEE, lobby=True)
    assert by_connection(effects) == {
        "g": [Waiting(resume="token-4")],
        "m": [Lobby(waiting=(GUEST,))],
    }
    assert room.room.lobby() == (GUEST,)
    assert GUEST not in room.room.members()
    assert "g" not in recipients(room.handle("t", Chat(text="hi")), ChatPosted)
    assert "g" not in recipients(room.join("x"), PeerJoined)


def test_guest_waits_for_a_mentor_who_then_sees_the_lobby(h: Harness) -> None:
    h.join("t", Role.TRAINEE)
    assert to(h.join("g", lobby=True), "t") == []
    effects = h.join("m", Role.MENTOR)
    assert to(effects, "m")[-1] == Lobby(waiting=(Peer(PeerId("p2"), Role.TRAINEE, "Name g"),))
    assert welcome_of(effects, "m").peers == (Peer(PeerId("p1"), Role.TRAINEE, "Name t"),)


def test_admit_welcomes_the_guest_and_announces_it(room: Harness) -> None:
    room.join("g", lobby=True, ice=STUN)
    effects = room.handle("m", Admit(peer=PeerId("p4")))
    assert [p.id for p in welcome_of(effects, "g").peers] == ["p1", "p2", "p3"]
    assert welcome_of(effects, "g").ice_servers == STUN  # the ones it joined with
    assert recipients(effects, PeerJoined) == {"m", "t", "s"}
    assert to(effects, "m") == [PeerJoined(GUEST), Lobby(waiting=())]
    assert audits(effects) == ["admit"]
    assert room.room.lobby() == ()
    assert GUEST in room.room.members()


def test_deny_closes_the_guest_and_nobody_else_hears(room: Harness) -> None:
    room.join("g", lobby=True)
    effects = room.handle("m", Deny(peer=PeerId("p4")))
    assert closes(effects) == [("g", CLOSE_NOT_ALLOWED)]
    assert by_connection(effects) == {"m": [Lobby(waiting=())]}
    assert audits(effects) == ["deny"]
    assert room.room.peer_of(ConnectionId("g")) is None
    assert room.handle("g", Ping(id="1")) == []


def test_deny_of_a_guest_whose_socket_dropped_just_forgets_it(room: Harness) -> None:
    room.join("g", lobby=True)
    room.drop("g")
    effects = room.handle("m", Deny(peer=PeerId("p4")))
    assert closes(effects) == []
    assert room.room.lobby() == ()
    assert room.room.next_expiry() is None


@pytest.mark.parametrize("command", [Admit, Deny])
@pytest.mark.parametrize("sender", ["t", "s"])
def test_only_mentors_admit_or_deny(
    room: Harness, command: type[Admit | Deny], sender: str
) -> None:
    room.join("g", lobby=True)
    effects = room.handle(sender, command(peer=PeerId("p4")))
    assert error_code(effects, sender) == "forbidden"
    assert audits(effects) == ["forbidden"]
    assert len(effects) == 2
    assert room.room.lobby() == (GUEST,)


@pytest.mark.parametrize("command", [Admit, Deny])
@pytest.mark.parametrize("target", ["nobody", "p1", "p2"])
def test_admit_or_deny_needs_a_waiting_peer(
    room: Harness, command: type[Admit | Deny], target: str
) -> None:
    effects = room.handle("m", command(peer=PeerId(target)))
    assert error_code(effects, "m") == "unknown-peer"
    assert [e.detail for e in only(effects, Audit)] == [{"peer": target}]
    assert len(effects) == 2
    assert len(room.room.members()) == 3


@pytest.mark.parametrize(
    "message",
    [
        Signal(to=PeerId("p1"), description=OFFER),
        StateUpdate(audio=True, video=True, screen=False),
        Chat(text="let me in"),
        Consent(granted=True),
        Mark(label="x"),
        Admit(peer=PeerId("p1")),
        RecordingCommand(action="start"),
    ],
)
def test_lobby_peers_may_only_ping_or_leave(room: Harness, message: ClientMessage) -> None:
    room.join("g", Role.MENTOR, lobby=True)  # even a mentor, if the shell sent it to the lobby
    effects = room.handle("g", message)
    assert error_code(effects, "g") == "not-admitted"
    assert audits(effects) == ["not-admitted"]
    assert len(effects) == 2


def test_lobby_peer_can_ping_and_leave(room: Harness) -> None:
    room.join("g", lobby=True)
    assert room.handle("g", Ping(id="7")) == [send("g", Pong(id="7"))]
    effects = room.handle("g", Leave())
    assert by_connection(effects) == {"m": [Lobby(waiting=())]}
    assert closes(effects) == [("g", CLOSE_NORMAL)]
    assert room.room.lobby() == ()


def test_a_second_join_on_the_same_socket_is_an_error(room: Harness) -> None:
    assert error_code(room.join("t"), "t") == "already-joined"
    assert error_code(room.handle("t", Join()), "t") == "already-joined"
    assert len(room.room.members()) == 3


def test_unknown_connections_get_nothing(room: Harness) -> None:
    assert room.handle("stranger", Chat(text="hi")) == []
    assert room.room.disconnect(ConnectionId("stranger"), room.now) == []
    assert room.room.peer_of(ConnectionId("stranger")) is None
    assert room.room.connection_of(PeerId("p404")) is None
    assert room.room.connection_of(PeerId("p2")) == "t"


def test_repeated_or_reserved_peer_ids_are_refused() -> None:
    principal = Principal("u", Role.TRAINEE, "T")
    same = Room(SessionId("s"), started_at=0, started_wall=0, new_id=lambda: "p", new_token=str)
    same.join(ConnectionId("a"), principal, Join(), 0)
    with pytest.raises(ValueError, match="already in use"):
        same.join(ConnectionId("b"), Principal("v", Role.TRAINEE, "V"), Join(), 0)
    media = Room(
        SessionId("s"), started_at=0, started_wall=0, new_id=lambda: MEDIA_PEER, new_token=str
    )
    with pytest.raises(ValueError, match="already in use"):
        media.join(ConnectionId("a"), principal, Join(), 0)


# --- relay -----------------------------------------------------------------------------------


def test_signal_is_relayed_with_from_set_by_the_server(room: Harness) -> None:
    candidate = IceCandidate(candidate="candidate:1 1 udp 1 192.0.2.1 9 typ host", sdp_mid="0")
    effects = room.handle("t", Signal(to=PeerId("p1"), candidate=candidate))
    assert effects == [send("m", SignalRelay(from_=PeerId("p2"), candidate=candidate))]
    effects = room.handle("m", Signal(to=PeerId("p2"), description=OFFER))
    assert effects == [send("t", SignalRelay(from_=PeerId("p1"), description=OFFER))]


@pytest.mark.parametrize("target", ["p2", "p404", "p4", MEDIA_PEER])
def test_signal_outside_the_admitted_members_is_refused(room: Harness, target: str) -> None:
    room.join("g", lobby=True)  # p4, in the lobby
    effects = room.handle("t", Signal(to=PeerId(target), description=OFFER))
    assert error_code(effects, "t") == "unknown-peer"
    assert [e.detail for e in only(effects, Audit)] == [{"to": target}]
    assert len(effects) == 2


def test_signal_to_a_member_in_its_grace_window_is_dropped(room: Harness) -> None:
    room.drop("m")
    assert room.handle("t", Signal(to=PeerId("p1"), description=OFFER)) == []


# --- media state, chat -----------------------------------------------------------------------


def test_state_goes_to_the_others_and_to_later_newcomers(room: Harness) -> None:
    effects = room.handle("t", StateUpdate(audio=False, video=True, screen=False))
    changed = PeerStateChanged(peer=PeerId("p2"), audio=False, video=True, screen=False)
    assert by_connection(effects) == {"m": [changed], "s": [changed]}
    assert to(room.join("x"), "x")[1:] == [changed]


def test_chat_reaches_every_admitted_member_with_a_wall_clock_time(room: Harness) -> None:
    room.join("g", lobby=True)
    room.now = START + 2.5
    effects = room.handle("t", Chat(text="hello"))
    at = round((START_WALL + 2.5) * 1000)
    posted = ChatPosted(from_=PeerId("p2"), text="hello", at=at, name="Name t", id="p5")
    assert of_type(effects, ChatPosted) == [(c, posted) for c in ("m", "t", "s")]
    # Stored first, with the sender's name at the time and the offset into the call.
    assert effects[0] == StoreChat(SessionId("s1"), "p5", PeerId("p2"), "Name t", "hello", at, 2500)
    assert len(effects) == 4


# --- marks -----------------------------------------------------------------------------------


def test_marks_go_to_mentors_and_supervisors_and_are_stored(room: Harness) -> None:
    room.now = START + 61.25
    effects = room.handle("m", Mark(label="Good handover", tags=("sbar",)))
    added = MarkAdded(id="p4", label="Good handover", tags=("sbar",), at_ms=61250, by=PeerId("p1"))
    assert of_type(effects, MarkAdded) == [("m", added), ("s", added)]
    assert only(effects, StoreMark) == [
        StoreMark(SessionId("s1"), "p4", "Good handover", ("sbar",), 61250, PeerId("p1"))
    ]


def test_mark_offsets_never_go_negative(room: Harness) -> None:
    room.now = START - 5
    [store] = only(room.handle("m", Mark(label="x")), StoreMark)
    assert store.at_ms == 0


@pytest.mark.parametrize("sender", ["t", "s"])
@pytest.mark.parametrize("message", [Mark(label="x"), RecordingCommand(action="start")])
def test_only_mentors_mark_or_record(room: Harness, sender: str, message: ClientMessage) -> None:
    effects = room.handle(sender, message)
    assert error_code(effects, sender) == "forbidden"
    assert audits(effects) == ["forbidden"]
    assert len(effects) == 2
    assert room.room.recording().state is RecordingState.OFF


# --- pings, leaving --------------------------------------------------------------------------


def test_ping_is_answered_to_the_sender_only(room: Harness) -> None:
    assert room.handle("s", Ping(id="abc")) == [send("s", Pong(id="abc"))]


def test_leave_tells_the_others_at_once_and_closes(room: Harness) -> None:
    effects = room.handle("t", Leave())
    left = PeerLeft(peer=PeerId("p2"), reason="left")
    assert by_connection(effects) == {"m": [left], "s": [left]}
    assert closes(effects) == [("t", CLOSE_NORMAL)]
    assert room.room.members() == (MENTOR, Peer(PeerId("p3"), Role.SUPERVISOR, "Name s"))
    assert room.handle("t", Ping(id="1")) == []
