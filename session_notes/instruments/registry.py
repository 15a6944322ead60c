"""The instruments a program can use: the built-in ones and its own, every version kept."""

from __future__ import annotations

from session_notes.instruments.catalog import builtin_templates
from session_notes.instruments.store import TemplateStore
from session_notes.instruments.template import Template

__all__ = ["Instruments"]


def _version_key(template: Template) -> tuple[int, ...]:
    return tuple(int(part) for part in template.template_version.split("."))


class Instruments:
    def __init__(self, store: TemplateStore) -> None:
        self._store = store

    async def versions(self) -> list[Template]:
        return [*builtin_templates(), *await self._store.all()]

    async def latest(self) -> list[Template]:
        newest: dict[str, Template] = {}
        for template in await self.versions():
            known = newest.get(template.id)
            if known is None or _version_key(template) > _version_key(known):
                newest[template.id] = template
        return sorted(newest.values(), key=lambda t: (t.kind, t.short_name.lower()))

    async def get(self, instrument_id: str, version: str | None = None) -> Template | None:
        matching = [t for t in await self.versions() if t.id == instrument_id]
        if version is not None:
            return next((t for t in matching if t.template_version == version), None)
        return max(matching, key=_version_key, default=None)
