"""Coaching analytics: how feedback follows the sessions, for one trainee and for the program
(issue 10). Pure, like :mod:`session_notes.progress`: the caller loads the facts.

- time from a session's end to its first mentor feedback submitted, acknowledged by the trainee,
  countersigned by a supervisor (medians, in hours; feedback written during the call counts 0);
- the share of held sessions with mentor feedback, and marks per session;
- the countersign backlog: submitted mentor feedback not yet countersigned nor returned;
- for the program: sessions per trainee and per mentor per month, and the entrustment levels
  given per EPA.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from session_notes.instruments import FeedbackForm, Template
from session_notes.progress import effective_forms

__all__ = [
    "Coaching",
    "EntrustmentCount",
    "HeldSession",
    "MonthlyCount",
    "Program",
    "coaching",
    "program",
]

_HOUR = 3600.0
_GROUP_ITEM, _LEVEL_ITEM = "epa", "entrustment_level"


@dataclass(frozen=True)
class HeldSession:
    id: str
    mentor_id: str
    trainee_ids: tuple[str, ...]
    started_at: float
    ended_at: float | None
    marks: int


@dataclass(frozen=True)
class Coaching:
    sessions: int  # held (started)
    with_feedback: int  # ended sessions with submitted mentor feedback
    feedback_share: float | None  # with_feedback / ended sessions
    hours_to_submitted: float | None  # medians from the session's end
    hours_to_acknowledged: float | None
    hours_to_countersigned: float | None
    marks_per_session: float | None
    countersign_backlog: int


@dataclass(frozen=True)
class MonthlyCount:
    id: str
    name: str
    months: dict[str, int]  # "2026-05" → sessions held that month
    total: int


@dataclass(frozen=True)
class EntrustmentCount:
    epa: str
    label: str
    levels: dict[str, int]  # level (as text, JSON keys) → forms that gave it


@dataclass(frozen=True)
class Program:
    months: tuple[str, ...]
    trainees: tuple[MonthlyCount, ...]
    mentors: tuple[MonthlyCount, ...]
    overall: Coaching
    entrustment: tuple[EntrustmentCount, ...]


def _median_hours(values: Iterable[float]) -> float | None:
    found = [max(0.0, v) / _HOUR for v in values]
    return round(statistics.median(found), 2) if found else None


def coaching(sessions: Sequence[HeldSession], forms: Iterable[FeedbackForm]) -> Coaching:
    """The figures over ``sessions`` and the mentor feedback given in them."""
    held = {s.id: s for s in sessions}
    counted = [
        f for f in effective_forms(forms) if f.respondent == "mentor" and f.session_id in held
    ]
    first: dict[str, FeedbackForm] = {}
    for form in sorted(counted, key=lambda f: f.submitted_at or 0.0):
        first.setdefault(form.session_id, form)
    ended = [s for s in sessions if s.ended_at is not None]
    since_end: dict[str, list[float]] = defaultdict(list)
    for session in ended:
        given = first.get(session.id)
        if given is None or session.ended_at is None:
            continue
        for step, at in (
            ("submitted", given.submitted_at),
            ("acknowledged", given.acknowledged_at),
            ("countersigned", given.countersigned_at),
        ):
            if at is not None:
                since_end[step].append(at - session.ended_at)
    with_feedback = sum(1 for s in ended if s.id in first)
    return Coaching(
        sessions=len(sessions),
        with_feedback=with_feedback,
        feedback_share=round(with_feedback / len(ended), 3) if ended else None,
        hours_to_submitted=_median_hours(since_end["submitted"]),
        hours_to_acknowledged=_median_hours(since_end["acknowledged"]),
        hours_to_countersigned=_median_hours(since_end["countersigned"]),
        marks_per_session=round(sum(s.marks for s in sessions) / len(sessions), 2)
        if sessions
        else None,
        countersign_backlog=sum(
            1 for f in counted if f.countersigned_at is None and f.returned_at is None
        ),
    )


def _month(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m")


def _monthly(
    sessions: Sequence[HeldSession], people: Mapping[str, str], of: str
) -> tuple[MonthlyCount, ...]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for session in sessions:
        ids = session.trainee_ids if of == "trainee" else (session.mentor_id,)
        for person in ids:
            counts[person][_month(session.started_at)] += 1
    rows = [
        MonthlyCount(pid, people.get(pid, ""), dict(sorted(c.items())), sum(c.values()))
        for pid, c in counts.items()
    ]
    return tuple(sorted(rows, key=lambda r: (r.name.lower(), r.id)))


def program(
    sessions: Sequence[HeldSession],
    forms: Iterable[FeedbackForm],
    *,
    people: Mapping[str, str],
    templates: Mapping[tuple[str, str], Template],
) -> Program:
    """The program's figures: ``people`` names trainees and mentors by id."""
    forms = list(forms)
    levels: dict[str, Counter[str]] = defaultdict(Counter)
    labels: dict[str, str] = {}
    for form in effective_forms(forms):
        template = templates.get((form.instrument_id, form.instrument_version))
        epa, level = form.responses.get(_GROUP_ITEM), form.responses.get(_LEVEL_ITEM)
        if template is None or not isinstance(epa, str) or isinstance(level, bool):
            continue
        if not isinstance(level, int | float):
            continue
        item = template.item(_GROUP_ITEM)
        option = next((o for o in item.options if o.value == epa), None) if item else None
        labels[epa] = option.label if option else epa
        levels[epa][f"{level:g}"] += 1
    return Program(
        months=tuple(sorted({_month(s.started_at) for s in sessions})),
        trainees=_monthly(sessions, people, "trainee"),
        mentors=_monthly(sessions, people, "mentor"),
        overall=coaching(sessions, forms),
        entrustment=tuple(
            EntrustmentCount(epa, labels[epa], dict(sorted(c.items(), key=lambda kv: float(kv[0]))))
            for epa, c in sorted(levels.items())
        ),
    )
