"""A trainee's answers as CSV for a spreadsheet: one row per answer of every counted form.

RFC 4180 quoting, CRLF line ends and a UTF-8 byte-order mark (Excel reads UTF-8 only with it).
A cell that a spreadsheet would run as a formula (starting with = + - @, a tab or a carriage
return) is prefixed with an apostrophe (OWASP "CSV injection"): answers are free text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from session_notes.instruments import FeedbackForm, Item, Template
from session_notes.progress import (
    NO_FILTERS,
    Filters,
    MarkFacts,
    SessionFacts,
    effective_forms,
    form_date,
    is_rating,
    offset,
    passes,
)

__all__ = ["HEADER", "csv_text", "neutralise", "progress_rows"]

HEADER = (
    "date",
    "session_id",
    "session_title",
    "instrument",
    "instrument_id",
    "template_version",
    "form_id",
    "amends_form_id",
    "author",
    "respondent",
    "item_id",
    "item",
    "value",
    "value_label",
    "rating",
    "cited_marks",
)

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(cell: str) -> str:
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def _value(item: Item, value: Any) -> tuple[str, str]:
    """The raw value and how the form words it."""
    if value is None:
        return "", item.na_option.label if item.na_option else "Not observed"
    if isinstance(value, bool):
        return ("true" if value else "false"), ("Yes" if value else "No")
    if isinstance(value, int | float):
        point = next((p for p in item.points if p.value == value), None)
        return f"{value:g}", point.label if point else ""
    if isinstance(value, list):
        labels = {o.value: o.label for o in item.options}
        return "; ".join(map(str, value)), "; ".join(labels.get(v, str(v)) for v in value)
    text = str(value)
    option = next((o for o in item.options if o.value == text), None)
    return text, option.label if option else ""


def progress_rows(
    forms: Iterable[FeedbackForm],
    *,
    templates: Mapping[tuple[str, str], Template],
    sessions: Mapping[str, SessionFacts],
    marks: Mapping[str, MarkFacts],
    filters: Filters = NO_FILTERS,
) -> list[tuple[str, ...]]:
    """The rows under :data:`HEADER`, in time order; the same forms the progress series count."""
    counted = [
        f for f in effective_forms(forms) if (f.instrument_id, f.instrument_version) in templates
    ]
    counted.sort(key=lambda f: (form_date(f, sessions), f.submitted_at or 0.0))
    rows: list[tuple[str, ...]] = []
    for form in counted:
        when = form_date(form, sessions)
        if not passes(form, when, filters):
            continue
        template = templates[(form.instrument_id, form.instrument_version)]
        session = sessions.get(form.session_id)
        answers = [
            *(
                (item, form.responses[item.id], form.author_name)
                for item in template.items
                if item.id in form.responses and item.respondent == template.respondent
            ),
            *(
                (item, form.trainee_responses[item.id], "trainee")
                for item in template.items
                if item.id in form.trainee_responses and item.respondent != template.respondent
            ),
        ]
        for item, answer, author in answers:
            value, label = _value(item, answer)
            cited = [marks[m] for m in form.evidence.get(item.id, ()) if m in marks]
            rating = is_rating(template, item) and value != "" and not isinstance(answer, bool)
            rows.append(
                (
                    datetime.fromtimestamp(when, UTC).strftime("%Y-%m-%d %H:%M UTC"),
                    form.session_id,
                    session.title if session else "",
                    template.short_name,
                    template.id,
                    form.instrument_version,
                    form.id,
                    form.amends_id or "",
                    author,
                    item.respondent,
                    item.id,
                    item.label,
                    value,
                    label,
                    "yes" if rating else "no",
                    "; ".join(f"at {offset(m.at_ms)} {m.label}".strip() for m in cited),
                )
            )
    return rows


def csv_text(rows: Iterable[Sequence[str]], header: Sequence[str] = HEADER) -> str:
    """The CSV document, byte-order mark first."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return out.getvalue()
