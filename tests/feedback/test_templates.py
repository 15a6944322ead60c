"""Every built-in template loads, renders as a valid FHIR Questionnaire, and accepts exactly the
answers its items allow; generated valid answers survive the FHIR rendering."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.questionnaire import Questionnaire
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from session_notes.instruments import (
    FormForExport,
    Item,
    Template,
    TemplateError,
    builtin_templates,
    bundle,
    check_responses,
    is_offered,
    load_template,
    questionnaire,
)

BASE = "https://preceptor.test"
TEMPLATES = builtin_templates()
REQUIRED = {
    "mini-cex-abim",
    "dops-uk",
    "o-score",
    "epa-observation",
    "aamc-core-epas",
    "snapps",
    "one-minute-preceptor",
    "pendleton",
    "r2c2",
    "sbi",
    "self-assessment",
}


def test_the_catalog_has_what_programs_need() -> None:
    ids = {t.id for t in TEMPLATES}
    assert ids >= REQUIRED
    mini_cex = next(t for t in TEMPLATES if t.id == "mini-cex-abim")
    domains = [i for i in mini_cex.items if i.section == "ratings"]
    assert len(domains) == 7
    assert all([p.value for p in i.points] == list(range(1, 10)) for i in domains)
    assert {p.band for p in domains[0].points} == {"unsatisfactory", "satisfactory", "superior"}
    assert {"setting", "patient_age", "time_observing_min"} <= {i.id for i in mini_cex.items}
    epas = next(t for t in TEMPLATES if t.id == "aamc-core-epas")
    assert len(epas.items) == 13
    assert all(t.reference.citation and t.template_version for t in TEMPLATES)


def test_only_published_or_verified_drafts_are_offered() -> None:
    researched = json.loads(
        (Path(__file__).parents[2] / "session_notes/instruments/researched.json").read_text()
    )
    offered = {t.id for t in TEMPLATES}
    for entry in researched:
        assert (entry["id"] in offered) == is_offered(entry), entry["id"]
    assert "telehealth-webside-observation-draft" not in offered
    assert "epa-observation-ottawa" not in offered


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.id)
def test_renders_as_a_valid_fhir_questionnaire(template: Template) -> None:
    resource = Questionnaire.model_validate(questionnaire(BASE, template))
    assert resource.version == template.template_version
    linked = {q.linkId for group in resource.item or [] for q in group.item or []}
    assert linked == {i.id for i in template.items}


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"items": []}, "no items"),
        ({"template_version": "1"}, "template_version"),
        (
            {"items": [{"id": "a", "label": "A", "type": "scale", "section": "s", "points": []}]},
            "scale",
        ),
        (
            {"items": [{"id": "a", "label": "A", "type": "text", "section": "nowhere"}]},
            "unknown section",
        ),
        ({"items": [{"id": "a", "label": "A", "type": "essay", "section": "s"}]}, "type"),
    ],
)
def test_bad_templates_are_refused_with_the_reason(change: dict[str, Any], complaint: str) -> None:
    base = {
        "id": "custom",
        "name": "Custom",
        "short_name": "C",
        "template_version": "1.0.0",
        "kind": "assessment_form",
        "description": "",
        "provenance": "custom",
        "reference": {"citation": "Our program, 2026"},
        "sections": [{"id": "s", "label": "S"}],
        "items": [{"id": "a", "label": "A", "type": "text", "section": "s"}],
    }
    with pytest.raises(TemplateError, match=complaint):
        load_template({**base, **change})


def answers_for(item: Item) -> st.SearchStrategy[Any]:
    if item.type == "scale":
        values = st.sampled_from([p.value for p in item.points])
        return st.one_of(values, st.none()) if item.na_option else values
    if item.type == "choice":
        options = [o.value for o in item.options]
        if item.multiple:
            return st.lists(st.sampled_from(options), min_size=1, unique=True)
        return st.sampled_from(options)
    if item.type == "number":
        return st.integers(int(item.min or 0), int(item.max if item.max is not None else 1000))
    if item.type == "boolean":
        return st.booleans()
    # NUL is refused at the HTTP boundary (server/http/errors.py), so no valid answer holds it.
    text = st.characters(codec="utf-8", exclude_characters="\x00")
    return st.text(text, min_size=1, max_size=50).filter(str.strip)


@st.composite
def complete_answers(draw: st.DrawFn, template: Template) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for item in template.items:
        if item.respondent != template.respondent:
            continue
        if item.required or draw(st.booleans()):
            answers[item.id] = draw(answers_for(item))
    return answers


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.id)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_valid_answers_pass_and_survive_fhir(template: Template, data: st.DataObject) -> None:
    answers = data.draw(complete_answers(template))
    assert check_responses(template, answers, respondent=template.respondent, complete=True) == []
    form = FormForExport(
        "f1", template, "submitted", answers, "t1", "Tia", "m1", "Dr M", 1_795_300_000.0, {}
    )
    resource = Bundle.model_validate(bundle(BASE, "b1", [form], 1_795_300_000.0))
    response = resource.entry[1].resource  # type: ignore[index,union-attr]
    exported = {
        item.linkId: item.answer
        for group in response.item or []  # type: ignore[union-attr]
        for item in group.item or []
    }
    for item_id, value in answers.items():
        item = template.item(item_id)
        assert item is not None
        blank = isinstance(value, str) and not value.strip()
        if blank or (value is None and item.na_option is None):
            continue
        assert item_id in exported, item_id


@pytest.mark.parametrize(
    ("answers", "field", "reason"),
    [
        ({"medical_interviewing": 10}, "medical_interviewing", "scale points"),
        ({"medical_interviewing": "7"}, "medical_interviewing", "scale points"),
        ({"setting": "moon"}, "setting", "must be one of"),
        ({"patient_age": 200}, "patient_age", "at most"),
        ({"comments": "x" * 5001}, "comments", "limit"),
        ({"no_such_item": 1}, "no_such_item", "no such item"),
        ({"trainee_satisfaction": 5}, "trainee_satisfaction", "answered by the trainee"),
    ],
)
def test_bad_answers_name_the_field(answers: dict[str, Any], field: str, reason: str) -> None:
    template = next(t for t in TEMPLATES if t.id == "mini-cex-abim")
    errors = check_responses(template, answers, respondent="mentor", complete=False)
    assert any(e.field == field and reason in e.reason for e in errors), errors


def test_submission_needs_the_required_items() -> None:
    template = next(t for t in TEMPLATES if t.id == "mini-cex-abim")
    errors = check_responses(template, {}, respondent="mentor", complete=True)
    required = {i.id for i in template.items if i.required and i.respondent == "mentor"}
    assert {e.field for e in errors} == required
