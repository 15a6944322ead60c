"""The built-in instruments, from the researched drafts shipped beside this module.

``researched.json`` is a copy of ``shared/instruments.json``: each entry carries its reference,
how sure each label is, and its template version. Only what is published or verified is offered
(see :func:`is_offered`); two more templates are composed from offered parts and say so.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from session_notes.instruments.template import Template, load_template

__all__ = ["builtin_templates", "is_offered"]

_RESEARCHED = Path(__file__).with_name("researched.json")


def is_offered(entry: dict[str, Any]) -> bool:
    """Published instruments, models and frameworks; adapted ones only with a verified
    reference; never the project's own drafts."""
    provenance = str(entry.get("provenance", ""))
    verified = bool(entry.get("reference", {}).get("verified"))
    return provenance.startswith("published") or (provenance == "adapted" and verified)


def _epa_observation(entries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """An EPA observation: which AAMC Core EPA, the Chen entrustment-supervision level, and
    narrative — the generic workplace-based form, built only from verified/published parts."""
    epas = entries["aamc-core-epas"]
    chen = entries["entrustment-scale-chen"]
    scale = dict(chen["items"][0])
    return {
        "id": "epa-observation",
        "name": "EPA observation with entrustment-supervision scale",
        "short_name": "EPA observation",
        "version": "Composed: AAMC Core EPAs (2014) + Chen et al. 2015 entrustment scale",
        "template_version": "1.0.0",
        "kind": "assessment_form",
        "description": "Which Core EPA was observed, the level of supervision the trainee needed, "
        "and what to keep and change.",
        "reference": chen["reference"],
        "additional_references": [epas["reference"]["citation"]],
        "provenance": "composed",
        "verification": "EPA titles: " + epas["verification"] + " Scale: " + chen["verification"],
        "license_note": epas.get("license_note", ""),
        "sections": [
            {"id": "context", "label": "What was observed"},
            {"id": "rating", "label": "Entrustment"},
            {"id": "feedback", "label": "Feedback"},
        ],
        "items": [
            {
                "id": "epa",
                "label": "EPA observed",
                "type": "choice",
                "section": "context",
                "required": True,
                "options": [{"value": i["id"], "label": i["label"]} for i in epas["items"]],
            },
            {**scale, "section": "rating", "required": True},
            {
                "id": "keep_doing",
                "label": "What to keep doing",
                "type": "text",
                "section": "feedback",
                "multiline": True,
            },
            {
                "id": "change",
                "label": "What to change next time",
                "type": "text",
                "section": "feedback",
                "required": True,
                "multiline": True,
            },
        ],
    }


def _self_assessment(entries: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The trainee rates themselves on the Mini-CEX domains: the same words the mentor uses,
    so the two can be compared. Not a validated self-assessment instrument, and it says so."""
    mini_cex = entries["mini-cex-abim"]
    ratings = [
        {**item, "required": False, "respondent": "trainee"}
        for item in mini_cex["items"]
        if item["section"] == "ratings"
    ]
    return {
        "id": "self-assessment",
        "name": "Trainee self-assessment (Mini-CEX domains)",
        "short_name": "Self-assessment",
        "version": "Composed from the ABIM Mini-CEX domains; not a validated instrument",
        "template_version": "1.0.0",
        "kind": "self_assessment",
        "description": "Rate yourself on the domains your mentor uses, then reflect.",
        "reference": mini_cex["reference"],
        "provenance": "composed",
        "verification": "Domains and scale as in the Mini-CEX entry. " + mini_cex["verification"],
        "license_note": mini_cex.get("license_note", ""),
        "respondent": "trainee",
        "sections": [
            {
                "id": "ratings",
                "label": "How did I do? (1-3 unsatisfactory, 4-6 satisfactory, 7-9 superior)",
            },
            {"id": "reflection", "label": "Reflection"},
        ],
        "items": [
            *ratings,
            {
                "id": "went_well",
                "label": "What went well",
                "type": "text",
                "section": "reflection",
                "multiline": True,
                "respondent": "trainee",
            },
            {
                "id": "learning_goal",
                "label": "What I want to work on next",
                "type": "text",
                "section": "reflection",
                "required": True,
                "multiline": True,
                "respondent": "trainee",
            },
        ],
    }


@cache
def builtin_templates() -> tuple[Template, ...]:
    entries = {e["id"]: e for e in json.loads(_RESEARCHED.read_text("utf-8"))}
    offered = [e for e in entries.values() if is_offered(e)]
    composed = [_epa_observation(entries), _self_assessment(entries)]
    return tuple(load_template(e) for e in [*offered, *composed])
