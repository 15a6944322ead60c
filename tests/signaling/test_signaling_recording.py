"""Recording consent (DESIGN.md §5): `active` only while every admitted member consents to
the request at hand; only a session whose media passes through the server is recorded."""

from __future__ import annotations

import pytest

from signaling import (
    Admit,
    Audit,
    Consent,
    Effect,
    ErrorMessage,
    Leave,
    MediaJoin,
    MediaMode,
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
    error_code,
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


@pytest.fixture
def h() -> Harness:
    """An empty routed room: its media passes through the server, which can record it."""
    return Harness(MediaMode.ROUTED)


@pytest.fixture
def room(h: Harness) -> Harness:
    """A routed room with an admitted mentor "m" (p1), trainee "t" (p2), supervisor "s" (p3)."""
    h.join("m", Role.MENTOR)
    h.join("t", Role.TRAINEE)
    h.join("s", Role.SUPERVISOR)
    return h


def everyone_consents(room: Harness) -> None:
    for conn in "mts":
        room.handle(conn, YES)


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


def test_an_answer_counts_for_one_request_only(room: Harness) -> None:
    # Before anything is asked, an answer is no consent: the sender hears where things stand.
    assert room.handle("t", YES) == [send("t", status(OFF))]
    room.handle("m", RECORD)
    everyone_consents(room)
    assert room.room.recording() == status(ACTIVE, "p1", "p2", "p3")
    room.handle("m", STOP)
    # A consent given before a stop does not count for the next request: everyone is asked.
    effects = room.handle("m", RECORD)
    assert by_connection(effects) == {c: [status(PENDING)] for c in "mts"}
    assert changes(effects) == [PENDING]
    # A withdrawal that crosses the stop changes nothing either.
    room.handle("m", STOP)
    assert room.handle("s", NO) == [send("s", status(OFF))]


def test_an_explicitly_direct_session_refuses_to_record_and_says_why() -> None:
    h = Harness(MediaMode.DIRECT)
    h.join("m", Role.MENTOR)
    h.join("t")
    effects = h.handle("m", RECORD)
    assert error_code(effects, "m") == "recording-needs-routed"
    [(_, error)] = of_type(effects, ErrorMessage)
    assert error.message == (
        "This session is direct: video never passes through the server, so it cannot be recorded."
    )
    assert audits(effects) == ["recording-needs-routed"]
    assert changes(effects) == []
    assert only(effects, MediaJoin) == []
    assert h.room.recording() == status(OFF)
    assert h.room.media_mode is MediaMode.DIRECT
    # Stopping what never started is the usual no-op.
    assert h.handle("m", STOP) == [send("m", status(OFF))]


def test_an_auto_session_switches_to_routed_before_it_asks() -> None:
    h = Harness(auto_route=True)
    h.join("m", Role.MENTOR)
    h.join("t")
    effects = h.handle("m", RECORD)
    assert h.room.media_mode is MediaMode.ROUTED
    # The members' media connections are asked for before anyone is asked to consent.
    kinds = [type(e).__name__ for e in effects if isinstance(e, MediaJoin | RecordingChanged)]
    assert kinds == ["MediaJoin", "MediaJoin", "RecordingChanged"]
    assert changes(effects) == [PENDING]


def test_a_recorder_failure_turns_recording_off_and_tells_the_mentor_only(
    room: Harness,
) -> None:
    room.join("m2", Role.MENTOR, subject="user-second-mentor")
    room.handle("m", RECORD)
    for conn in ("m", "t", "s", "m2"):
        room.handle(conn, YES)
    assert room.room.recording().state is ACTIVE
    reason = "The recording stopped: the server could not write it (No space left on device)."
    effects = room.room.recording_failed(reason)
    assert changes(effects) == [OFF]
    assert by_connection(effects) == {
        "m": [status(OFF), ErrorMessage(code="recording-failed", message=reason)],
        "m2": [status(OFF), ErrorMessage(code="recording-failed", message=reason)],
        "t": [status(OFF)],
        "s": [status(OFF)],
    }
    assert audits(effects) == ["recording-failed", "recording"]
    # The next request asks everyone again; a late failure report changes nothing.
    assert room.room.recording_failed(reason) == []
    assert changes(room.handle("m", RECORD)) == [PENDING]


def test_withdrawing_consent_stops_an_active_recording(room: Harness) -> None:
    room.handle("m", RECORD)
    everyone_consents(room)
    effects = room.handle("t", NO)
    assert by_connection(effects) == {c: [status(PENDING, "p1", "p3")] for c in "mts"}
    assert changes(effects) == [PENDING]
    assert effects[0] == Audit("consent", PeerId("p2"), {"granted": "no"})
    assert changes(room.handle("t", YES)) == [ACTIVE]


def test_a_newcomer_pauses_recording_until_it_consents(room: Harness) -> None:
    room.handle("m", RECORD)
    everyone_consents(room)
    effects = room.join("x")
    assert welcome_of(effects, "x").recording == status(PENDING, "p1", "p2", "p3")
    assert to(effects, "t")[-1] == status(PENDING, "p1", "p2", "p3")
    assert len(of_type(effects, RecordingStatus)) == 3  # not twice to the newcomer
    assert changes(effects) == [PENDING]
    assert changes(room.handle("x", YES)) == [ACTIVE]


def test_an_admitted_guest_pauses_recording_too(room: Harness) -> None:
    room.handle("m", RECORD)
    everyone_consents(room)
    room.join("g", lobby=True)
    assert room.room.recording().state is ACTIVE  # the lobby is not in the room
    effects = room.handle("m", Admit(peer=PeerId("p4")))
    assert changes(effects) == [PENDING]


def test_when_the_last_holdout_leaves_recording_resumes(room: Harness) -> None:
    room.handle("m", RECORD)
    room.handle("m", YES)
    room.handle("s", YES)
    effects = room.handle("t", Leave())
    assert changes(effects) == [ACTIVE]
    assert to(effects, "m")[-1] == status(ACTIVE, "p1", "p3")


def test_a_consenting_member_leaving_updates_the_list_only(room: Harness) -> None:
    room.handle("m", RECORD)
    room.handle("s", YES)
    effects = room.handle("s", Leave())
    assert to(effects, "m")[-1] == status(PENDING)
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
    h.handle("m", RECORD)
    h.handle("m", YES)
    effects = h.handle("m", Leave())
    assert changes(effects) == [PENDING]
    assert h.room.recording() == status(PENDING)


def test_end_stops_an_active_recording(room: Harness) -> None:
    room.handle("m", RECORD)
    assert changes(room.room.end()) == [OFF]


def test_an_observer_is_never_asked_and_never_listed_among_the_consents(h: Harness) -> None:
    """An observer publishes nothing, so nothing of theirs is recorded: recording starts when
    the members who are recorded consent, and a hidden observer's id never reaches a trainee
    through the list of consents."""
    h.join("m", Role.MENTOR)
    h.join("t", Role.TRAINEE)
    h.join("o", Role.SUPERVISOR, observer=True)
    h.handle("m", RECORD)
    h.handle("m", YES)
    effects = h.handle("t", YES)
    assert changes(effects) == [ACTIVE]
    assert only(to(effects, "t"), RecordingStatus) == [status(ACTIVE, "p1", "p2")]
    # Its answer changes nothing and is not listed.
    assert only(h.handle("o", YES), RecordingStatus) == []
