"""Recording consent (DESIGN.md §5): `active` only while every admitted member consents."""

from __future__ import annotations

from signaling import (
    Admit,
    Audit,
    Consent,
    Effect,
    Leave,
    PeerId,
    RecordingChanged,
    RecordingCommand,
    RecordingState,
    RecordingStatus,
    Role,
    SessionId,
)
from tests.signaling.harness import (
    Harness,
    audits,
    by_connection,
    of_type,
    only,
    send,
    to,
    welcome_of,
)

RECORD = RecordingCommand(action="start")
STOP = RecordingCommand(action="stop")
YES = Consent(granted=True)
NO = Consent(granted=False)
OFF, PENDING, ACTIVE = RecordingState.OFF, RecordingState.PENDING_CONSENT, RecordingState.ACTIVE


def status(state: RecordingState, *consents: str) -> RecordingStatus:
    return RecordingStatus(state=state, consents=tuple(PeerId(c) for c in consents))


def changes(effects: list[Effect]) -> list[RecordingState]:
    return [e.state for e in only(effects, RecordingChanged)]


def test_start_waits_for_consent_then_goes_active(room: Harness) -> None:
    effects = room.handle("m", RECORD)
    assert by_connection(effects) == {c: [status(PENDING)] for c in "mts"}
    assert changes(effects) == [PENDING]
    assert [e.detail for e in only(effects, Audit)] == [{"state": "pending-consent"}]

    room.handle("m", YES)
    room.handle("t", YES)
    effects = room.handle("s", YES)
    assert by_connection(effects) == {c: [status(ACTIVE, "p1", "p2", "p3")] for c in "mts"}
    assert changes(effects) == [ACTIVE]
    assert effects[-1] == Audit("recording", None, {"state": "active"})
    assert only(effects, RecordingChanged) == [RecordingChanged(SessionId("s1"), ACTIVE)]


def test_consent_given_before_the_start_counts(room: Harness) -> None:
    for conn in "mts":
        effects = room.handle(conn, YES)
        assert changes(effects) == []  # consents change, the state stays off
        assert audits(effects) == ["consent"]
    assert room.room.recording() == status(OFF, "p1", "p2", "p3")
    effects = room.handle("m", RECORD)
    assert changes(effects) == [ACTIVE]


def test_withdrawing_consent_stops_an_active_recording(room: Harness) -> None:
    for conn in "mts":
        room.handle(conn, YES)
    room.handle("m", RECORD)
    effects = room.handle("t", NO)
    assert by_connection(effects) == {c: [status(PENDING, "p1", "p3")] for c in "mts"}
    assert changes(effects) == [PENDING]
    assert effects[0] == Audit("consent", PeerId("p2"), {"granted": "no"})
    assert changes(room.handle("t", YES)) == [ACTIVE]


def test_a_newcomer_pauses_recording_until_it_consents(room: Harness) -> None:
    for conn in "mts":
        room.handle(conn, YES)
    room.handle("m", RECORD)
    effects = room.join("x")
    assert welcome_of(effects, "x").recording == status(PENDING, "p1", "p2", "p3")
    assert to(effects, "t")[-1] == status(PENDING, "p1", "p2", "p3")
    assert len(of_type(effects, RecordingStatus)) == 3  # not twice to the newcomer
    assert changes(effects) == [PENDING]
    assert changes(room.handle("x", YES)) == [ACTIVE]


def test_an_admitted_guest_pauses_recording_too(room: Harness) -> None:
    for conn in "mts":
        room.handle(conn, YES)
    room.handle("m", RECORD)
    room.join("g", lobby=True)
    assert room.room.recording().state is ACTIVE  # the lobby is not in the room
    effects = room.handle("m", Admit(peer=PeerId("p4")))
    assert changes(effects) == [PENDING]


def test_when_the_last_holdout_leaves_recording_resumes(room: Harness) -> None:
    room.handle("m", YES)
    room.handle("s", YES)
    room.handle("m", RECORD)
    effects = room.handle("t", Leave())
    assert changes(effects) == [ACTIVE]
    assert to(effects, "m")[-1] == status(ACTIVE, "p1", "p3")


def test_a_consenting_member_leaving_updates_the_list_only(room: Harness) -> None:
    room.handle("s", YES)
    effects = room.handle("s", Leave())
    assert to(effects, "m")[-1] == status(OFF)
    assert changes(effects) == []


def test_stop_turns_it_off(room: Harness) -> None:
    room.handle("m", RECORD)
    effects = room.handle("m", STOP)
    assert by_connection(effects) == {c: [status(OFF)] for c in "mts"}
    assert changes(effects) == [OFF]


def test_commands_that_change_nothing_answer_the_sender_only(room: Harness) -> None:
    assert room.handle("m", STOP) == [send("m", status(OFF))]
    room.handle("m", RECORD)
    assert room.handle("m", RECORD) == [send("m", status(PENDING))]
    room.handle("t", YES)
    effects = room.handle("t", YES)
    assert effects[1:] == [send("t", status(PENDING, "p2"))]


def test_nobody_left_means_nothing_is_recorded(h: Harness) -> None:
    h.join("m", Role.MENTOR)
    h.handle("m", YES)
    h.handle("m", RECORD)
    effects = h.handle("m", Leave())
    assert changes(effects) == [PENDING]
    assert h.room.recording() == status(PENDING)


def test_end_stops_an_active_recording(room: Harness) -> None:
    room.handle("m", RECORD)
    assert changes(room.room.end()) == [OFF]
