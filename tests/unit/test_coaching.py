"""Coaching analytics (session_notes/coaching.py) on seeded sessions and forms: time from a
session's end to feedback submitted, acknowledged and countersigned; the share of sessions with
feedback; marks per session; the countersign backlog; the program's monthly counts and the
entrustment levels per EPA."""

from __future__ import annotations

from dataclasses import replace

from session_notes.coaching import HeldSession, coaching, program
from session_notes.instruments import builtin_templates
from session_notes.progress import templates_by_version
from tests.unit.test_progress import form

HOUR = 3600.0
T0 = 1_780_000_000.0  # 2026-05-28
TEMPLATES = templates_by_version(builtin_templates())


def held(n: int, *, mentor: str = "mentor-a", ended: bool = True, marks: int = 0) -> HeldSession:
    start = T0 + n * 7 * 24 * HOUR
    return HeldSession(f"s{n}", mentor, ("trainee",), start, start + HOUR if ended else None, marks)


def test_time_to_each_step_is_a_median_from_the_end_of_the_session() -> None:
    sessions = [held(1, marks=2), held(2), held(3, marks=1), held(4, ended=False)]
    end = {s.id: s.ended_at or 0.0 for s in sessions}
    forms = [
        replace(
            form("f1", "s1", {}, submitted_at=end["s1"] + 2 * HOUR),
            acknowledged_at=end["s1"] + 10 * HOUR,
            countersigned_at=end["s1"] + 30 * HOUR,
        ),
        # Written during the call: no negative hours.
        form("f2", "s2", {}, submitted_at=end["s2"] - 600),
        # A later second form of session 2 does not change its time to feedback.
        form("f2b", "s2", {}, submitted_at=end["s2"] + 50 * HOUR),
        replace(form("f9", "s3", {}, status="draft"), session_id="s3"),
    ]
    found = coaching(sessions, forms)
    assert found.sessions == 4
    assert found.with_feedback == 2
    assert found.feedback_share == round(2 / 3, 3)
    assert found.hours_to_submitted == 1.0  # the median of 2 h and 0 h
    assert found.hours_to_acknowledged == 10.0
    assert found.hours_to_countersigned == 30.0
    assert found.marks_per_session == 0.75
    assert found.countersign_backlog == 2  # f2 and f2b; f1 is countersigned


def test_returned_and_amended_forms_leave_the_backlog() -> None:
    sessions = [held(1)]
    original = replace(form("f1", "s1", {}), returned_at=T0 + 5 * HOUR)
    assert coaching(sessions, [original]).countersign_backlog == 0
    revision = form("f1b", "s1", {}, amends="f1", submitted_at=T0 + 9 * HOUR)
    assert coaching(sessions, [original, revision]).countersign_backlog == 1
    assert coaching([], []).feedback_share is None


def test_the_program_counts_sessions_per_month_and_entrustment_per_epa() -> None:
    sessions = [held(0), held(1, mentor="mentor-b"), held(2), held(6)]
    people = {"trainee": "Tia", "mentor-a": "Dr A", "mentor-b": "Dr B"}
    epa = {"instrument": "epa-observation", "version": "1.0.0"}
    forms = [
        form("e1", "s0", {"epa": "epa_01", "entrustment_level": 3}, **epa),  # type: ignore[arg-type]
        form("e2", "s1", {"epa": "epa_01", "entrustment_level": 5}, **epa),  # type: ignore[arg-type]
        form("e3", "s2", {"epa": "epa_06", "entrustment_level": 5}, **epa),  # type: ignore[arg-type]
    ]
    found = program(sessions, forms, people=people, templates=TEMPLATES)
    assert found.months == ("2026-05", "2026-06", "2026-07")
    assert [(r.name, r.months, r.total) for r in found.trainees] == [
        ("Tia", {"2026-05": 1, "2026-06": 2, "2026-07": 1}, 4)
    ]
    assert [(r.name, r.total) for r in found.mentors] == [("Dr A", 3), ("Dr B", 1)]
    assert [(e.epa, e.levels) for e in found.entrustment] == [
        ("epa_01", {"3": 1, "5": 1}),
        ("epa_06", {"5": 1}),
    ]
    assert found.entrustment[0].label.startswith("EPA 1")
    assert found.overall.with_feedback == 3
