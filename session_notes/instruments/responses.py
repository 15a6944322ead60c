"""Checking a form's answers against its template: field by field, each problem named.

``responses`` maps item id → value: a number for a scale point or a number item, a string for
text or a single choice, a list of strings for several choices, a boolean, or ``null`` for
"not observed" (DESIGN.md §2). A draft may be incomplete; a submission may not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from session_notes.instruments.template import Item, Template

__all__ = ["FieldError", "check_responses"]

Respondent = Literal["mentor", "trainee"]


@dataclass(frozen=True)
class FieldError:
    field: str
    reason: str


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_value(item: Item, value: Any) -> str | None:
    if value is None:
        if item.type == "scale" and item.na_option is None and item.required:
            return "this item has no 'not observed' option"
        return None
    if item.type == "scale":
        allowed = [p.value for p in item.points]
        if not _is_number(value) or value not in allowed:
            return f"must be one of the scale points {allowed}"
    elif item.type == "choice":
        options = {o.value for o in item.options}
        if item.multiple:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                return "must be a list of option values"
            if len(set(value)) != len(value):
                return "an option is chosen twice"
            unknown = [v for v in value if v not in options]
            if unknown:
                return f"unknown option {unknown[0]!r}; options are {sorted(options)}"
        elif not isinstance(value, str) or value not in options:
            return f"must be one of {sorted(options)}"
    elif item.type == "text":
        if not isinstance(value, str):
            return "must be text"
        if len(value) > item.max_length:
            return f"is {len(value)} characters; the limit is {item.max_length}"
    elif item.type == "number":
        if not _is_number(value):
            return "must be a number"
        if item.min is not None and value < item.min:
            return f"must be at least {item.min:g}"
        if item.max is not None and value > item.max:
            return f"must be at most {item.max:g}"
    elif item.type == "boolean" and not isinstance(value, bool):
        return "must be true or false"
    return None


def _answered(item: Item, responses: Mapping[str, Any]) -> bool:
    if item.id not in responses:
        return False
    value = responses[item.id]
    if value is None:
        # "Not observed" answers a scale item that offers it; otherwise it is no answer.
        return item.type == "scale" and item.na_option is not None
    if isinstance(value, str):
        return bool(value.strip())
    return bool(value != [])


def check_responses(
    template: Template,
    responses: Mapping[str, Any],
    *,
    respondent: Respondent,
    complete: bool,
) -> list[FieldError]:
    errors: list[FieldError] = []
    for item_id, value in responses.items():
        item = template.item(item_id)
        if item is None:
            errors.append(FieldError(item_id, f"{template.short_name} has no such item"))
            continue
        if item.respondent != respondent:
            errors.append(FieldError(item_id, f"is answered by the {item.respondent}"))
            continue
        problem = _check_value(item, value)
        if problem:
            errors.append(FieldError(item_id, problem))
    if complete:
        for item in template.items:
            if item.required and item.respondent == respondent and not _answered(item, responses):
                errors.append(FieldError(item.id, "is required"))
    return errors
