"""Feedback instrument templates as data: sections and typed items, validated when loaded.

A template is identified by ``id`` and ``version``; a version, once stored, is never edited
(DESIGN.md §2: a template in use is never changed in place — a new version is made).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

__all__ = [
    "Item",
    "NotObserved",
    "Option",
    "Reference",
    "ScalePoint",
    "Section",
    "Template",
    "TemplateError",
    "load_template",
]

Id = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")]
Label = Annotated[str, msgspec.Meta(min_length=1, max_length=500)]
Text = Annotated[str, msgspec.Meta(max_length=2000)]


class TemplateError(ValueError):
    """A template that cannot be used; the message names the part."""


class _Base(msgspec.Struct, frozen=True, omit_defaults=True, forbid_unknown_fields=False):
    pass


class Reference(_Base, frozen=True):
    citation: Text
    url: str | None = None
    verified: bool = False
    verification_note: Text | None = None


class Section(_Base, frozen=True):
    id: Id
    label: Label


class ScalePoint(_Base, frozen=True):
    value: int | float
    label: Label
    band: str | None = None
    code: str | None = None
    description: Text | None = None


class Option(_Base, frozen=True):
    value: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    label: Label


class NotObserved(_Base, frozen=True):
    code: str
    label: Label


class Item(_Base, frozen=True):
    id: Id
    label: Label
    type: Literal["scale", "choice", "text", "number", "boolean"]
    section: Id
    required: bool = False
    help: Text | None = None
    note: Text | None = None
    points: tuple[ScalePoint, ...] = ()
    na_option: NotObserved | None = None
    options: tuple[Option, ...] = ()
    multiple: bool = False
    min: float | None = None
    max: float | None = None
    unit: str | None = None
    multiline: bool = False
    max_length: Annotated[int, msgspec.Meta(ge=1, le=20_000)] = 5000
    respondent: Literal["mentor", "trainee"] = "mentor"
    step: int | None = None
    speaker: str | None = None
    prompt: Text | None = None
    source: str | None = None


class Template(_Base, frozen=True):
    id: Id
    name: Label
    short_name: Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
    template_version: Annotated[str, msgspec.Meta(pattern=r"^\d+\.\d+\.\d+$")]
    kind: str
    description: Text
    reference: Reference
    provenance: str
    sections: tuple[Section, ...]
    items: tuple[Item, ...]
    version: Text = ""
    verification: Text = ""
    license_note: Text = ""
    respondent: Literal["mentor", "trainee"] = "mentor"
    additional_references: tuple[Text, ...] = ()

    def item(self, item_id: str) -> Item | None:
        return next((i for i in self.items if i.id == item_id), None)


def check_template(template: Template) -> Template:
    """The rules msgspec's types cannot say."""
    sections = {s.id for s in template.sections}
    if len(sections) != len(template.sections):
        raise TemplateError(f"{template.id}: section ids repeat")
    seen: set[str] = set()
    if not template.items:
        raise TemplateError(f"{template.id}: no items")
    for item in template.items:
        where = f"{template.id}.{item.id}"
        if item.id in seen:
            raise TemplateError(f"{where}: item id repeats")
        seen.add(item.id)
        if item.section not in sections:
            raise TemplateError(f"{where}: unknown section {item.section!r}")
        if item.type == "scale":
            values = [p.value for p in item.points]
            if len(values) < 2 or len(set(values)) != len(values):
                raise TemplateError(f"{where}: a scale needs two or more distinct points")
        if (
            item.type == "choice" and len({o.value for o in item.options}) != len(item.options)
        ) or (item.type == "choice" and not item.options):
            raise TemplateError(f"{where}: a choice needs distinct options")
        if item.min is not None and item.max is not None and item.min > item.max:
            raise TemplateError(f"{where}: min is above max")
    return template


def load_template(data: bytes | dict[str, object]) -> Template:
    """Parse and check one template; raises :class:`TemplateError` naming what is wrong."""
    try:
        if isinstance(data, bytes):
            template = msgspec.json.decode(data, type=Template)
        else:
            template = msgspec.convert(data, type=Template)
    except msgspec.ValidationError as exc:
        raise TemplateError(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise TemplateError(f"not JSON: {exc}") from None
    except UnicodeDecodeError:
        raise TemplateError("not JSON: a string is not valid UTF-8") from None
    except RecursionError:
        # msgspec recurses once per level, also into unknown fields it skips; a template's own
        # shape is a few levels deep, so running out of stack means a hostile body.
        raise TemplateError("not JSON a template can be: it nests too deeply") from None
    return check_template(template)
