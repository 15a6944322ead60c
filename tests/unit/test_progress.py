"""Progress aggregation (session_notes/progress.py) on seeded forms: amendments replace what they
amend, "not observed" and satisfaction answers are no ratings, each form is read with its own
template version, EPA observations make a series per EPA; and the CSV a spreadsheet opens."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from typing import Any

import msgspec

from session_notes.instruments import FeedbackForm, Template, builtin_templates
from session_notes.progress import (
    NO_FILTERS,
    Filters,
    MarkFacts,
    SessionFacts,
    effective_forms,
    offset,
    progress,
    templates_by_version,
)
from session_notes.progress_csv import HEADER, csv_text, neutralise, progress_rows

BUILTIN = {t.id: t for t in builtin_templates()}
DAY = 86_400.0
T0 = 1_790_000_000.0


def mini_cex_v2() -> Template:
    """A program's own later version: one more rated domain, the rest unchanged."""
    old = BUILTIN["mini-cex-abim"]
    extra = msgspec.structs.replace(
        old.item("counseling"),  # type: ignore[arg-type]
        id="handover",
        label="Handover",
    )
    return msgspec.structs.replace(old, template_version="0.2.0", items=(*old.items, extra))


TEMPLATES = templates_by_version([*BUILTIN.values(), mini_cex_v2()])
SESSIONS = {f"s{n}": SessionFacts(f"s{n}", f"Ward round {n}", T0 + n * DAY) for n in range(20)}
MARKS = {
    "m1": MarkFacts("m1", "s1", 102_000, "missed red flag"),
    "m2": MarkFacts("m2", "s2", 3_723_000, "good closure"),
}


def form(
    form_id: str,
    session: str,
    responses: dict[str, Any],
    *,
    instrument: str = "mini-cex-abim",
    version: str = "0.1.0",
    author: str = "mentor-a",
    status: str = "submitted",
    amends: str | None = None,
    evidence: dict[str, list[str]] | None = None,
    submitted_at: float | None = None,
) -> FeedbackForm:
    at = SESSIONS[session].date + 3600 if submitted_at is None else submitted_at
    return FeedbackForm(
        id=form_id,
        session_id=session,
        instrument_id=instrument,
        instrument_version=version,
        trainee_id="trainee",
        author_id=author,
        author_name=f"Dr {author[-1].upper()}",
        respondent="mentor",
        status=status,
        responses=responses,
        evidence=evidence or {},
        trainee_responses={},
        amends_id=amends,
        created_at=at - 60,
        updated_at=at,
        submitted_at=at if status == "submitted" else None,
    )


def series(found: Any, instrument: str, key: str) -> list[tuple[str, float]]:
    inst = next(i for i in found.instruments if i.instrument_id == instrument)
    chosen = next(s for s in inst.series if s.key == key)
    return [(p.session_id, p.value) for p in chosen.points]


def run(forms: list[FeedbackForm], filters: Filters = NO_FILTERS) -> Any:
    return progress(forms, templates=TEMPLATES, sessions=SESSIONS, marks=MARKS, filters=filters)


def test_each_point_names_its_session_mentor_value_and_cited_marks() -> None:
    forms = [
        form(
            "f1",
            "s1",
            {"clinical_judgment": 4, "comments": "Screen for red flags first."},
            evidence={"clinical_judgment": ["m1", "m2"]},  # m2 is another session's: dropped
        ),
        form("f2", "s2", {"clinical_judgment": 6}, author="mentor-b"),
    ]
    found = run(forms)
    inst = found.instruments[0]
    assert (inst.instrument_id, inst.assessments) == ("mini-cex-abim", 2)
    judgment = next(s for s in inst.series if s.item_id == "clinical_judgment")
    assert (judgment.low, judgment.high) == (1, 9)
    first, second = judgment.points
    assert (first.session_id, first.mentor_name, first.value, first.date) == (
        "s1",
        "Dr A",
        4,
        SESSIONS["s1"].date,
    )
    scale = {point.value: point.label for point in judgment.scale}
    assert scale[first.value] == "4 (satisfactory)"
    assert [(m.id, m.at_ms, m.label) for m in first.marks] == [("m1", 102_000, "missed red flag")]
    assert second.mentor_id == "mentor-b"
    assert second.marks == ()
    assert [c.text for c in found.comments] == ["Screen for red flags first."]
    assert (found.sessions, found.assessments) == (2, 2)


def test_not_observed_satisfaction_and_drafts_are_no_ratings() -> None:
    forms = [
        form(
            "f1",
            "s1",
            {
                "medical_interviewing": 7,
                "physical_examination": None,  # not observed
                "evaluator_satisfaction": 9,
                "setting": "inpatient",
            },
        ),
        form("f2", "s2", {"medical_interviewing": 2}, status="draft"),
    ]
    found = run(forms)
    keys = [s.key for s in found.instruments[0].series]
    assert keys == ["medical_interviewing"]
    assert series(found, "mini-cex-abim", "medical_interviewing") == [("s1", 7)]
    assert found.instruments[0].assessments == 1


def test_an_amendment_replaces_the_form_it_amends_along_the_chain() -> None:
    forms = [
        form("orig", "s1", {"counseling": 3}),
        form("fix1", "s1", {"counseling": 5}, amends="orig", submitted_at=T0 + 2 * DAY),
        form("fix2", "s1", {"counseling": 6}, amends="fix1", submitted_at=T0 + 3 * DAY),
        # An amendment still in draft changes nothing yet.
        form("fix3", "s1", {"counseling": 1}, amends="fix2", status="draft"),
        form("other", "s2", {"counseling": 4}),
        # Two amendments of one form: the later one stands.
        form("twice-a", "s2", {"counseling": 7}, amends="other", submitted_at=T0 + 5 * DAY),
        form("twice-b", "s2", {"counseling": 8}, amends="other", submitted_at=T0 + 6 * DAY),
    ]
    assert [f.id for f in effective_forms(forms)] == ["fix2", "twice-b"]
    found = run(forms)
    assert series(found, "mini-cex-abim", "counseling") == [("s1", 6), ("s2", 8)]
    assert found.instruments[0].assessments == 2


def test_each_form_is_read_with_its_own_template_version() -> None:
    forms = [
        form("old", "s1", {"counseling": 5, "handover": 9}),  # 0.1.0 has no handover item
        form("new", "s2", {"counseling": 6, "handover": 7}, version="0.2.0"),
        form("gone", "s3", {"counseling": 6}, version="9.9.9"),  # an unknown version: left out
    ]
    found = run(forms)
    assert series(found, "mini-cex-abim", "counseling") == [("s1", 5), ("s2", 6)]
    handover = series(found, "mini-cex-abim", "handover")
    assert handover == [("s2", 7)]
    assert found.instruments[0].series[-1].points[0].template_version == "0.2.0"


def test_entrustment_is_a_series_per_epa_and_instruments_keep_their_scales() -> None:
    forms = [
        form(
            "e1",
            "s1",
            {"epa": "epa_01", "entrustment_level": 3},
            instrument="epa-observation",
            version="1.0.0",
        ),
        form(
            "e2",
            "s2",
            {"epa": "epa_01", "entrustment_level": 5},
            instrument="epa-observation",
            version="1.0.0",
        ),
        form(
            "e3",
            "s3",
            {"epa": "epa_06", "entrustment_level": 2},
            instrument="epa-observation",
            version="1.0.0",
        ),
        form("d1", "s4", {"technical_ability": 4, "informed_consent": None}, instrument="dops-uk"),
        form("o1", "s5", {"technical_performance": 3}, instrument="o-score"),
    ]
    found = run(forms)
    epa = next(i for i in found.instruments if i.instrument_id == "epa-observation")
    assert [s.key for s in epa.series] == ["entrustment_level:epa_01", "entrustment_level:epa_06"]
    assert epa.series[0].label.endswith("· Entrustment-supervision level")
    assert series(found, "epa-observation", "entrustment_level:epa_01") == [("s1", 3), ("s2", 5)]
    dops = next(i for i in found.instruments if i.instrument_id == "dops-uk")
    assert [(s.key, s.high) for s in dops.series] == [("technical_ability", 6)]
    oscore = next(i for i in found.instruments if i.instrument_id == "o-score")
    assert oscore.series[0].high == 5


def test_filters_by_instrument_mentor_and_dates_keep_the_facets() -> None:
    forms = [
        form("a", "s1", {"counseling": 3}),
        form("b", "s2", {"counseling": 4}, author="mentor-b"),
        form("c", "s3", {"technical_ability": 4}, instrument="dops-uk"),
    ]
    by_mentor = run(forms, Filters(mentor_id="mentor-b"))
    assert series(by_mentor, "mini-cex-abim", "counseling") == [("s2", 4)]
    assert [f.id for f in by_mentor.mentor_facets] == ["mentor-a", "mentor-b"]
    by_instrument = run(forms, Filters(instrument_id="dops-uk"))
    assert [i.instrument_id for i in by_instrument.instruments] == ["dops-uk"]
    assert {f.id for f in by_instrument.instrument_facets} == {"mini-cex-abim", "dops-uk"}
    window = run(forms, Filters(since=SESSIONS["s2"].date, until=SESSIONS["s3"].date))
    assert [i.instrument_id for i in window.instruments] == ["mini-cex-abim"]
    assert series(window, "mini-cex-abim", "counseling") == [("s2", 4)]


def test_offsets_read_as_time_into_the_call() -> None:
    assert offset(102_000) == "+01:42"
    assert offset(3_723_000) == "+1:02:03"
    assert offset(0) == "+00:00"


def test_the_csv_has_one_row_per_answer_quoted_with_a_bom_and_no_formulas() -> None:
    forms = [
        form(
            "f1",
            "s1",
            {
                "medical_interviewing": 7,
                "physical_examination": None,
                "comments": '=HYPERLINK("http://x","click"), then "quotes"\nand a line',
                "patient_problem": "-2 kg weight loss; +fever; @home",
            },
            evidence={"medical_interviewing": ["m1"]},
        ),
        form("gone", "s2", {"counseling": 1}),
        form("fix", "s2", {"counseling": 2}, amends="gone", submitted_at=T0 + 9 * DAY),
    ]
    rows = progress_rows(forms, templates=TEMPLATES, sessions=SESSIONS, marks=MARKS)
    assert len(rows) == 5  # four answers of f1, one of the amendment (not the form it replaced)
    text = csv_text(rows)
    assert text.startswith("\ufeff")
    assert "\r\n" in text
    parsed = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert tuple(parsed[0].keys()) == HEADER
    by_item = {r["item_id"]: r for r in parsed}
    assert by_item["medical_interviewing"]["value"] == "7"
    assert by_item["medical_interviewing"]["rating"] == "yes"
    assert by_item["medical_interviewing"]["cited_marks"] == "at +01:42 missed red flag"
    assert by_item["physical_examination"]["value"] == ""
    assert by_item["physical_examination"]["value_label"] == "Not observed"
    assert by_item["physical_examination"]["rating"] == "no"
    # Text that a spreadsheet would run as a formula starts with an apostrophe instead.
    assert by_item["comments"]["value"].startswith("'=HYPERLINK(")
    assert by_item["comments"]["value"].endswith('"quotes"\nand a line')
    assert by_item["patient_problem"]["value"].startswith("'-2 kg")
    assert by_item["counseling"]["form_id"] == "fix"
    assert by_item["counseling"]["amends_form_id"] == "gone"
    assert by_item["counseling"]["session_title"] == "Ward round 2"
    for cell in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(cell) == "'" + cell
    assert neutralise("plain, text") == "plain, text"


def test_a_mentor_form_without_ratings_still_counts_its_comments() -> None:
    snapps = form("n1", "s1", {"summarize": "Chest pain, 2 h", "plan": "ECG"}, instrument="snapps")
    found = run([snapps])
    assert found.instruments[0].series == ()
    assert found.instruments[0].assessments == 1
    assert [c.item_label for c in found.comments][:1] == [BUILTIN["snapps"].items[0].label]
    assert replace(snapps, status="draft") not in effective_forms([replace(snapps, status="draft")])
