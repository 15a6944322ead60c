"""Feedback instruments: templates as data, answers checked against them, FHIR renderings,
and the storage of programs' own templates and of filled-in forms."""

from __future__ import annotations

from session_notes.instruments.catalog import builtin_templates, is_offered
from session_notes.instruments.fhir import FormForExport, bundle, questionnaire
from session_notes.instruments.registry import Instruments
from session_notes.instruments.responses import FieldError, check_responses
from session_notes.instruments.store import (
    DuplicateVersion,
    FeedbackForm,
    FeedbackStore,
    TemplateStore,
)
from session_notes.instruments.template import Item, Template, TemplateError, load_template

__all__ = [
    "DuplicateVersion",
    "FeedbackForm",
    "FeedbackStore",
    "FieldError",
    "FormForExport",
    "Instruments",
    "Item",
    "Template",
    "TemplateError",
    "TemplateStore",
    "builtin_templates",
    "bundle",
    "check_responses",
    "is_offered",
    "load_template",
    "questionnaire",
]
