"""FHIR R4 renderings: a template as a ``Questionnaire``, a submitted form as a
``QuestionnaireResponse``, and a session's forms as a ``Bundle`` (type ``collection``).

Scale points and choices become ``Coding`` answers whose system is the questionnaire's canonical
URL plus the item id, so a receiving system can resolve every code back to its label.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from session_notes.instruments.template import Item, Template

__all__ = [
    "FormForExport",
    "bundle",
    "latest_versions",
    "questionnaire",
    "questionnaire_response",
]

_ITEM_TYPES = {"scale": "choice", "choice": "choice", "number": "decimal", "boolean": "boolean"}


@dataclass(frozen=True)
class FormForExport:
    id: str
    template: Template
    status: str  # draft | submitted
    responses: Mapping[str, Any]
    trainee_id: str
    trainee_name: str
    author_id: str
    author_name: str
    authored_at: float
    evidence: Mapping[str, Sequence[str]]
    amends_id: str | None = None
    """The submitted form this one corrects: exported as that same response, ``amended``."""


def _instant(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).isoformat(timespec="seconds")


def _fhir_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "-", text)[:64]


def _questionnaire_id(template: Template) -> str:
    return _fhir_id(f"{template.id}-{template.template_version}")


def canonical(base_url: str, template: Template) -> str:
    return f"{base_url}/fhir/Questionnaire/{_fhir_id(template.id)}"


def _system(base_url: str, template: Template, item: Item) -> str:
    return f"{canonical(base_url, template)}#{item.id}"


def _answer_options(base_url: str, template: Template, item: Item) -> list[dict[str, Any]]:
    system = _system(base_url, template, item)
    if item.type == "scale":
        codes = [(str(p.value), p.label) for p in item.points]
    else:
        codes = [(o.value, o.label) for o in item.options]
    if item.na_option is not None:
        codes.append((item.na_option.code, item.na_option.label))
    return [{"valueCoding": {"system": system, "code": c, "display": d}} for c, d in codes]


def _question(base_url: str, template: Template, item: Item) -> dict[str, Any]:
    question: dict[str, Any] = {
        "linkId": item.id,
        "text": item.label,
        "type": "text"
        if item.type == "text" and item.multiline
        else _ITEM_TYPES.get(item.type, "string"),
        "required": item.required,
    }
    if item.type in ("scale", "choice"):
        question["answerOption"] = _answer_options(base_url, template, item)
        question["repeats"] = item.multiple
    if item.type == "text":
        question["maxLength"] = item.max_length
    return question


def questionnaire(base_url: str, template: Template) -> dict[str, Any]:
    name = re.sub(r"[^A-Za-z0-9]", "", template.short_name.title()) or "Instrument"
    return {
        "resourceType": "Questionnaire",
        "id": _questionnaire_id(template),
        "url": canonical(base_url, template),
        "version": template.template_version,
        "name": name if name[0].isalpha() else f"I{name}",
        "title": template.name,
        "status": "active",
        "description": template.description,
        **({"copyright": template.license_note} if template.license_note else {}),
        "item": [
            {
                "linkId": section.id,
                "text": section.label,
                "type": "group",
                "item": [
                    _question(base_url, template, item)
                    for item in template.items
                    if item.section == section.id
                ],
            }
            for section in template.sections
            if any(item.section == section.id for item in template.items)
        ],
    }


def _answers(base_url: str, template: Template, item: Item, value: Any) -> list[dict[str, Any]]:
    system = _system(base_url, template, item)
    if value is None:
        if item.na_option is None:
            return []
        na = item.na_option
        return [{"valueCoding": {"system": system, "code": na.code, "display": na.label}}]
    if item.type == "scale":
        label = next(p.label for p in item.points if p.value == value)
        return [{"valueCoding": {"system": system, "code": str(value), "display": label}}]
    if item.type == "choice":
        chosen = value if isinstance(value, list) else [value]
        labels = {o.value: o.label for o in item.options}
        return [
            {"valueCoding": {"system": system, "code": v, "display": labels[v]}} for v in chosen
        ]
    if item.type == "number":
        return [{"valueDecimal": value}]
    if item.type == "boolean":
        return [{"valueBoolean": value}]
    # FHIR strings carry no leading or trailing white space (nor white space alone).
    text = str(value).strip()
    return [{"valueString": text}] if text else []


def questionnaire_response(
    base_url: str, form: FormForExport, *, response_id: str | None = None
) -> dict[str, Any]:
    """``response_id``: the id of the response this form amends (its chain's first form)."""
    template = form.template
    groups = []
    for section in template.sections:
        answered = []
        for item in template.items:
            if item.section != section.id or item.id not in form.responses:
                continue
            answers = _answers(base_url, template, item, form.responses[item.id])
            if not answers:
                continue
            entry: dict[str, Any] = {"linkId": item.id, "text": item.label, "answer": answers}
            marks = form.evidence.get(item.id, ())
            if marks:
                entry["extension"] = [
                    {"url": f"{base_url}/fhir/StructureDefinition/evidence-mark", "valueString": m}
                    for m in marks
                ]
            answered.append(entry)
        if answered:
            groups.append({"linkId": section.id, "text": section.label, "item": answered})
    return {
        "resourceType": "QuestionnaireResponse",
        "id": _fhir_id(response_id or form.id),
        "questionnaire": f"{canonical(base_url, template)}|{template.template_version}",
        "status": _status(form),
        "subject": {
            "reference": f"Practitioner/{_fhir_id(form.trainee_id)}",
            "display": form.trainee_name,
        },
        "author": {
            "reference": f"Practitioner/{_fhir_id(form.author_id)}",
            "display": form.author_name,
        },
        "authored": _instant(form.authored_at),
        "item": groups,
    }


def _status(form: FormForExport) -> str:
    if form.status != "submitted":
        return "in-progress"
    return "amended" if form.amends_id is not None else "completed"


def latest_versions(forms: Sequence[FormForExport]) -> list[tuple[str, FormForExport]]:
    """One entry per response: an amended form and its amendments (a chain through
    ``amends_id``) are one QuestionnaireResponse, with the first form's id and the answers of
    the latest amendment (the last authored). In order of each response's first form."""
    by_id = {f.id: f for f in forms}

    def first(form: FormForExport) -> str:
        seen = {form.id}
        current = form.id
        while (amends := by_id[current].amends_id if current in by_id else None) is not None:
            if amends in seen:  # a cycle cannot be stored; never loop on one
                break
            seen.add(amends)
            current = amends
        return current

    def recency(form: FormForExport) -> tuple[bool, float]:
        return (form.amends_id is not None, form.authored_at)

    latest: dict[str, FormForExport] = {}
    for form in forms:
        root = first(form)
        known = latest.get(root)
        if known is None or recency(form) >= recency(known):
            latest[root] = form
    return list(latest.items())


def bundle(
    base_url: str, bundle_id: str, forms: Sequence[FormForExport], at: float
) -> dict[str, Any]:
    """``fullUrl`` is each resource's RESTful URL under ``<base_url>/fhir`` with the resource's
    own id (FHIR R4 Bundle rule bdl-7 and §2.36.4: fullUrl and id agree)."""
    responses = latest_versions(forms)
    templates = {(f.template.id, f.template.template_version): f.template for _, f in responses}
    entries = [
        {
            "fullUrl": f"{base_url}/fhir/Questionnaire/{_questionnaire_id(t)}",
            "resource": questionnaire(base_url, t),
        }
        for t in templates.values()
    ] + [
        {
            "fullUrl": f"{base_url}/fhir/QuestionnaireResponse/{_fhir_id(root)}",
            "resource": questionnaire_response(base_url, f, response_id=root),
        }
        for root, f in responses
    ]
    return {
        "resourceType": "Bundle",
        "id": _fhir_id(bundle_id),
        "type": "collection",
        "timestamp": _instant(at),
        "entry": entries,
    }
