"""A trainee's progress: the rating series of each instrument and item over sessions, each point
with the evidence behind it (the session, the mentor, the marks its answer cites).

Pure: the caller loads the forms, the sessions, the marks and the templates, and this turns them
into series. What counts (DESIGN.md §2, issue 10):
- only submitted forms; an amendment replaces the form it amends (and an amendment of an
  amendment replaces both), so a corrected rating is never counted twice;
- a rating is a numeric answer to a scale item of the form's own respondent, except the
  instrument's satisfaction items (they rate the form, not the trainee); "not observed" (``null``)
  is no rating;
- each form is read with its own template version; items keep their series across versions by id;
- an EPA observation's entrustment level is a series per EPA (the form's ``epa`` answer).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec

from session_notes.instruments import FeedbackForm, Item, Template

__all__ = [
    "NO_FILTERS",
    "RELIABLE_AFTER",
    "CitedMark",
    "Comment",
    "Facet",
    "Filters",
    "InstrumentProgress",
    "MarkFacts",
    "Point",
    "Progress",
    "ScaleLabel",
    "Series",
    "SessionFacts",
    "effective_forms",
    "form_date",
    "is_rating",
    "offset",
    "passes",
    "progress",
    "templates_by_version",
]

RELIABLE_AFTER = 12
"""About a dozen workplace-based assessments before a judgement of a trainee is reliable
(Norcini et al., Ann Intern Med 2003, for the Mini-CEX; the same order holds for DOPS and
entrustment ratings)."""

_GROUP_ITEM = "epa"  # a single choice that splits a form's ratings into one series per option


@dataclass(frozen=True)
class SessionFacts:
    id: str
    title: str
    date: float  # when it took place: started, else scheduled, else created (epoch seconds)


@dataclass(frozen=True)
class MarkFacts:
    id: str
    session_id: str
    at_ms: int
    label: str


# The many small values (a point per rating) are msgspec structs: built and encoded several
# times faster than dataclasses, which matters for a trainee with hundreds of sessions. They
# hold only strings and numbers (no cycles), so the garbage collector need not track them
# (gc=False): ~10,000 tracked points a request made full collections, the p95's spikes.
class CitedMark(msgspec.Struct, frozen=True, gc=False):
    id: str
    at_ms: int
    label: str


class Point(msgspec.Struct, frozen=True, gc=False):
    session_id: str
    form_id: str
    date: float
    mentor_id: str
    mentor_name: str
    value: float
    template_version: str
    marks: tuple[CitedMark, ...]


class ScaleLabel(msgspec.Struct, frozen=True, gc=False):
    value: float
    label: str  # as the form words it: "4 (satisfactory)", "3 — Practice only under …"


@dataclass(frozen=True)
class Series:
    key: str  # item id, or "<item id>:<group option>" for a series per EPA
    item_id: str
    label: str
    low: float
    high: float
    scale: tuple[ScaleLabel, ...]  # the points of the newest template version read
    points: tuple[Point, ...]


@dataclass(frozen=True)
class InstrumentProgress:
    instrument_id: str
    name: str
    short_name: str
    kind: str
    respondent: str
    assessments: int  # forms counted (after amendments), however many items each rates
    series: tuple[Series, ...]
    older: int = 0  # of those, the older ones whose points are not in the series (``latest``)


class Comment(msgspec.Struct, frozen=True, gc=False):
    session_id: str
    form_id: str
    date: float
    author_name: str
    instrument: str
    item_label: str
    text: str


@dataclass(frozen=True)
class Facet:
    id: str
    name: str


@dataclass(frozen=True)
class Filters:
    instrument_id: str | None = None
    since: float | None = None  # inclusive, epoch seconds
    until: float | None = None  # exclusive, epoch seconds
    mentor_id: str | None = None


NO_FILTERS = Filters()


@dataclass(frozen=True)
class Progress:
    instruments: tuple[InstrumentProgress, ...]
    comments: tuple[Comment, ...]
    sessions: int  # sessions with at least one counted form, after the filters
    assessments: int
    instrument_facets: tuple[Facet, ...] = field(default=())  # before the filters: for choosing
    mentor_facets: tuple[Facet, ...] = field(default=())


def effective_forms(forms: Iterable[FeedbackForm]) -> list[FeedbackForm]:
    """Submitted forms that no submitted amendment replaces, oldest first."""
    submitted = sorted(
        (f for f in forms if f.status == "submitted"), key=lambda f: f.submitted_at or 0.0
    )
    replaced: set[str] = set()
    newest_amendment: dict[str, FeedbackForm] = {}
    for form in submitted:
        if form.amends_id is None:
            continue
        replaced.add(form.amends_id)
        earlier = newest_amendment.get(form.amends_id)
        if earlier is not None:
            replaced.add(earlier.id)  # two amendments of one form: the later one stands
        newest_amendment[form.amends_id] = form
    return [f for f in submitted if f.id not in replaced]


def is_rating(template: Template, item: Item) -> bool:
    return (
        item.type == "scale"
        and item.respondent == template.respondent
        and item.section != "satisfaction"
        and not item.id.endswith("_satisfaction")
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _value_label(item: Item, value: float) -> str:
    point = next((p for p in item.points if p.value == value), None)
    if point is None:
        return f"{value:g}"
    label = point.label if point.label == f"{value:g}" else f"{value:g} — {point.label}"
    return f"{label} ({point.band.replace('_', ' ')})" if point.band else label


def offset(at_ms: int) -> str:
    """An offset into the call as people read it: "+01:42", "+1:02:03"."""
    total = max(0, at_ms // 1000)
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"+{hours}:{minutes:02}:{seconds:02}" if hours else f"+{minutes:02}:{seconds:02}"


def passes(form: FeedbackForm, when: float, filters: Filters) -> bool:
    if filters.instrument_id is not None and form.instrument_id != filters.instrument_id:
        return False
    if filters.mentor_id is not None and form.author_id != filters.mentor_id:
        return False
    if filters.since is not None and when < filters.since:
        return False
    return filters.until is None or when < filters.until


class _Reading:
    """What one template version's forms are read for: its rating items, its text items, and
    the single choice that splits its ratings into a series per option (an EPA)."""

    def __init__(self, template: Template) -> None:
        self.ratings = [i for i in template.items if is_rating(template, i)]
        self.texts = [i for i in template.items if i.type == "text"]
        group = template.item(_GROUP_ITEM)
        self.group = group if group is not None and group.type == "choice" else None
        self.options = {o.value: o.label for o in self.group.options} if self.group else {}

    def group_of(self, form: FeedbackForm) -> tuple[str, str] | None:
        answer = form.responses.get(_GROUP_ITEM) if self.group else None
        if not isinstance(answer, str):
            return None
        return answer, self.options.get(answer, answer)


@dataclass
class _Building:
    template: Template
    forms: set[str] = field(default_factory=set)
    series: dict[str, tuple[Item, str, list[Point]]] = field(default_factory=dict)


def form_date(form: FeedbackForm, sessions: Mapping[str, SessionFacts]) -> float:
    session = sessions.get(form.session_id)
    return session.date if session else form.submitted_at or form.created_at


def progress(
    forms: Iterable[FeedbackForm],
    *,
    templates: Mapping[tuple[str, str], Template],
    sessions: Mapping[str, SessionFacts],
    marks: Mapping[str, MarkFacts],
    filters: Filters = NO_FILTERS,
    latest: int | None = None,
) -> Progress:
    """The series of every instrument the forms rate on, and the narrative comments, in time
    order. ``templates`` maps (instrument id, template version) to the template; a form whose
    template is unknown is left out (templates are never deleted).

    ``latest``: only the newest this many assessments of each instrument have their points and
    comments here (older ones are counted, in ``InstrumentProgress.older``; the date filters
    reach them). A chart of hundreds of sessions is unreadable on a phone, and its points were
    most of the work and of the response."""
    counted = [
        f for f in effective_forms(forms) if (f.instrument_id, f.instrument_version) in templates
    ]
    dated = sorted(
        ((form_date(f, sessions), f) for f in counted),
        key=lambda pair: (pair[0], pair[1].submitted_at or 0.0),
    )
    instrument_facets = {
        f.instrument_id: templates[(f.instrument_id, f.instrument_version)].short_name
        for f in counted
    }
    mentor_facets = {f.author_id: f.author_name for f in counted}
    passing = [(when, form) for when, form in dated if passes(form, when, filters)]
    totals = Counter(form.instrument_id for _, form in passing)
    shown = passing if latest is None else _newest(passing, totals, latest)
    building: dict[str, _Building] = {}
    comments: list[Comment] = []
    read: dict[tuple[str, str], _Reading] = {}
    for when, form in shown:
        template = templates[(form.instrument_id, form.instrument_version)]
        entry = building.get(form.instrument_id)
        if entry is None:
            entry = building[form.instrument_id] = _Building(template)
        entry.template = template  # the newest version read names the instrument
        entry.forms.add(form.id)
        reading = read.get((template.id, template.template_version))
        if reading is None:
            reading = read[(template.id, template.template_version)] = _Reading(template)
        group = reading.group_of(form)
        responses = form.responses
        for item in reading.texts:
            answer = responses.get(item.id)
            if isinstance(answer, str) and answer.strip():
                comments.append(
                    Comment(
                        form.session_id,
                        form.id,
                        when,
                        form.author_name,
                        template.short_name,
                        item.label,
                        answer.strip(),
                    )
                )
        evidence = form.evidence
        for item in reading.ratings:
            value = _number(responses.get(item.id))
            if value is None:
                continue
            key, label = item.id, item.label
            if group is not None:
                key, label = f"{item.id}:{group[0]}", f"{group[1]} · {item.label}"
            cited_ids = evidence.get(item.id)
            cited = (
                tuple(
                    CitedMark(m.id, m.at_ms, m.label)
                    for m in (marks.get(mark_id) for mark_id in cited_ids)
                    if m is not None and m.session_id == form.session_id
                )
                if cited_ids
                else ()
            )
            point = Point(
                session_id=form.session_id,
                form_id=form.id,
                date=when,
                mentor_id=form.author_id,
                mentor_name=form.author_name,
                value=value,
                template_version=form.instrument_version,
                marks=cited,
            )
            known = entry.series.get(key)
            if known is None:
                entry.series[key] = (item, label, [point])
            else:
                entry.series[key] = (item, label, known[2])  # the newest version's item
                known[2].append(point)
    instruments = tuple(
        _instrument(entry, totals[entry.template.id])
        for entry in sorted(building.values(), key=lambda b: _order(b.template))
    )
    return Progress(
        instruments=instruments,
        comments=tuple(comments),
        sessions=len({form.session_id for _, form in passing}),
        assessments=len(passing),
        instrument_facets=tuple(Facet(k, v) for k, v in sorted(instrument_facets.items())),
        mentor_facets=tuple(Facet(k, v) for k, v in sorted(mentor_facets.items())),
    )


def _newest(
    passing: list[tuple[float, FeedbackForm]], totals: Counter[str], latest: int
) -> list[tuple[float, FeedbackForm]]:
    """The newest ``latest`` of each instrument's forms, still in time order."""
    skip = {instrument: total - latest for instrument, total in totals.items() if total > latest}
    if not skip:
        return passing
    shown = []
    for pair in passing:
        instrument = pair[1].instrument_id
        if skip.get(instrument, 0) > 0:
            skip[instrument] -= 1
        else:
            shown.append(pair)
    return shown


def _order(template: Template) -> tuple[int, str]:
    kinds = ("assessment_form", "rating_scale", "competency_framework", "self_assessment")
    rank = kinds.index(template.kind) if template.kind in kinds else len(kinds)
    return rank, template.short_name.lower()


def _instrument(entry: _Building, total: int) -> InstrumentProgress:
    template = entry.template
    position = {item.id: n for n, item in enumerate(template.items)}
    series: list[Series] = []
    for key, (item, label, points) in sorted(
        entry.series.items(), key=lambda kv: (position.get(kv[1][0].id, 999), kv[0])
    ):
        values = [p.value for p in item.points]
        series.append(
            Series(
                key=key,
                item_id=item.id,
                label=label,
                low=min(values, default=0),
                high=max(values, default=0),
                scale=tuple(ScaleLabel(p.value, _value_label(item, p.value)) for p in item.points),
                points=tuple(points),
            )
        )
    return InstrumentProgress(
        instrument_id=template.id,
        name=template.name,
        short_name=template.short_name,
        kind=template.kind,
        respondent=template.respondent,
        assessments=total,
        series=tuple(series),
        older=total - len(entry.forms),
    )


def templates_by_version(templates: Sequence[Template]) -> dict[tuple[str, str], Template]:
    return {(t.id, t.template_version): t for t in templates}
