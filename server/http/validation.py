"""msgspec's validation errors, said as a person would say them.

msgspec reports the first problem as developer text ("Expected `str` of length >= 3 - at
`$.email`"), which the pages would otherwise show as it is. Here that text becomes one sentence
that names the field in words, says what is wrong and what to do; the machine-readable detail
(the field's JSON path → a short reason) goes in ``fields``. msgspec only offers the text, so its
few stable shapes are read with patterns, and anything unrecognised still gets a plain sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import msgspec
import msgspec.inspect as mi

__all__ = ["Explanation", "explain"]

# The API's field names in words. A name not listed reads with its underscores as spaces.
LABELS = {
    "at_ms": "time of the mark",
    "display_name": "your name",
    "email": "e-mail address",
    "evidence": "evidence",
    "expires_in_s": "expiry time",
    "instrument_id": "feedback form",
    "instrument_version": "form version",
    "max_uses": "number of uses",
    "media_mode": "media mode",
    "responses": "answers",
    "scheduled_for": "start time",
    "session_id": "session",
    "supervisor_id": "supervisor",
    "trainee_id": "trainee",
    "trainee_ids": "trainees",
}

_TYPE_WORDS = {
    "str": "text",
    "int": "a whole number",
    "float": "a number",
    "bool": "yes or no",
    "array": "a list",
    "object": "a group of fields",
    "null": "nothing",
}

_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]+)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<name>[^`]+)`$")
_LENGTH = re.compile(r"^Expected `(?P<kind>str|array|object)` of length (?P<op>[<>]=) (?P<n>\d+)$")
_BOUND = re.compile(r"^Expected `(?P<kind>int|float)` (?P<op>[<>]=?) (?P<n>[-\d.e+]+)$")
_PATTERN = re.compile(r"^Expected `str` matching regex ")
_TYPE = re.compile(r"^Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`$")
_ENUM = re.compile(r"^Invalid enum value ")
_SEGMENT = re.compile(r"\.([^.\[]+)|\[(\d+|\.\.\.)\]")


@dataclass(frozen=True)
class Explanation:
    message: str
    fields: dict[str, str]


def explain(exc: msgspec.ValidationError, schema: object, body: bytes) -> Explanation:
    """One sentence for ``exc`` (raised decoding ``body`` into ``schema``), and its field."""
    text = str(exc)
    at = _AT.search(text)
    problem = text[: at.start()] if at else text
    steps = _steps(at.group("path") if at else "")
    if missing := _MISSING.match(problem):
        steps = [*steps, missing.group("name")]
    path = _dotted(steps)
    name = next((s for s in reversed(steps) if isinstance(s, str)), "")
    label = LABELS.get(name, name.replace("_", " ")) if name else "request"
    value = _value_at(body, steps)

    if unknown := _UNKNOWN.match(problem):
        # Only a program sends a field the API does not have, so its name is quoted as code.
        field = unknown.group("name")
        where = f"{path}.{field}" if path else field
        return Explanation(
            f"The request has a field `{field}` that is not part of it; leave it out.",
            {where: "not expected"},
        )
    if missing or (isinstance(value, str) and not value.strip() and _LENGTH.match(problem)):
        reason, sentence = "required", f"The {label} is missing; fill it in and try again."
    elif length := _LENGTH.match(problem):
        n = int(length.group("n"))
        unit = "characters" if length.group("kind") == "str" else "entries"
        if length.group("op") == ">=":
            reason = f"at least {n} {unit}"
            sentence = f"The {label} is too short; use at least {n} {unit}."
        else:
            reason = f"at most {n} {unit}"
            sentence = f"The {label} is too long; use at most {n} {unit}."
    elif bound := _BOUND.match(problem):
        limit, op = bound.group("n"), bound.group("op")
        words = {">=": "at least", ">": "more than", "<=": "at most", "<": "less than"}[op]
        reason = f"{words} {limit}"
        sentence = f"The {label} must be {words} {limit}; change it and try again."
    elif _PATTERN.match(problem):
        if name == "email" or "e-mail" in label:
            reason = "not an e-mail address"
            sentence = f"The {label} is not complete; write it as name@example.org."
        else:
            reason = "not in the expected form"
            sentence = f"The {label} is not in the expected form; check it and try again."
    elif _ENUM.match(problem) or (_TYPE.match(problem) and _choices(schema, steps)):
        options = ", ".join(_choices(schema, steps))
        reason = f"one of {options}" if options else "not one of the choices"
        sentence = (
            f"The {label} must be one of: {options}."
            if options
            else f"The {label} is not one of the choices; pick another and try again."
        )
    elif kind := _TYPE.match(problem):
        wants = [_TYPE_WORDS.get(w, w) for w in kind.group("want").split(" | ")]
        want = wants[0] if len(wants) == 1 else f"{', '.join(wants[:-1])} or {wants[-1]}"
        reason = f"must be {want}"
        if not steps:
            sentence = "The request must be a JSON object of fields; send it as {…}."
        else:
            sentence = f"The {label} must be {want}; change it and try again."
    else:
        reason = "not valid"
        sentence = f"The {label} is not valid; check it and try again."
    return Explanation(sentence, {path or "body": reason})


def _steps(path: str) -> list[str | int]:
    """``.a[0].b`` → ``["a", 0, "b"]``; a dictionary's key (``[...]``) is ``-1``."""
    out: list[str | int] = []
    for key, index in _SEGMENT.findall(path):
        if key:
            out.append(key)
        else:
            out.append(-1 if index == "..." else int(index))
    return out


def _dotted(steps: list[str | int]) -> str:
    out = ""
    for step in steps:
        if isinstance(step, str):
            out = f"{out}.{step}" if out else step
        else:
            out += "[…]" if step < 0 else f"[{step}]"
    return out


def _value_at(body: bytes, steps: list[str | int]) -> Any:
    """What the client sent at ``steps`` (``None`` when it cannot be found)."""
    try:
        value: Any = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError, UnicodeDecodeError):
        return None
    for step in steps:
        if isinstance(step, str) and isinstance(value, dict):
            value = value.get(step)
        elif isinstance(step, int) and step >= 0 and isinstance(value, list) and step < len(value):
            value = value[step]
        else:
            return None
    return value


def _choices(schema: object, steps: list[str | int]) -> list[str]:
    """The allowed values at ``steps`` when the schema says there are few (enum, literal)."""
    try:
        info: Any = mi.type_info(schema)
    except (TypeError, ValueError):
        return []
    for step in steps:
        info = _unwrap(info)
        if isinstance(step, str) and isinstance(info, mi.StructType):
            info = next((f.type for f in info.fields if f.encode_name == step), None)
        elif isinstance(step, int) and isinstance(info, mi.DictType):
            info = info.value_type
        elif isinstance(step, int) and isinstance(info, mi.ListType | mi.SetType | mi.VarTupleType):
            info = info.item_type
        else:
            return []
    info = _unwrap(info)
    if isinstance(info, mi.EnumType):
        return [str(member.value) for member in info.cls]
    if isinstance(info, mi.LiteralType):
        return [str(value) for value in info.values]
    return []


def _unwrap(info: Any) -> Any:
    if isinstance(info, mi.Metadata):
        info = info.type
    if isinstance(info, mi.UnionType):
        inner = [t for t in info.types if not isinstance(t, mi.NoneType)]
        if len(inner) == 1:
            return _unwrap(inner[0])
    return info
