"""The instruments a program can use: the built-in ones and its own, every version kept.

Template versions are never edited in place (a change is a new version), so what has been read
stays true: the registry keeps it in memory instead of reading and parsing every template on
every form, record and progress request. What can be missing is a version another node added
since: a lookup that misses reads again at once, and lists are read again after `ttl` seconds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from session_notes.instruments.catalog import builtin_templates
from session_notes.instruments.store import DuplicateVersion, TemplateStore
from session_notes.instruments.template import Template

__all__ = ["Instruments"]

LIST_TTL = 5.0
"""Seconds a list of versions may lag behind another node's new template."""

MISS_REREAD = 0.5
"""A miss reads again only if the last read is older than this: a flood of lookups for versions
that do not exist cannot turn into a flood of reads."""


def _version_key(template: Template) -> tuple[int, ...]:
    return tuple(int(part) for part in template.template_version.split("."))


class Instruments:
    def __init__(
        self,
        store: TemplateStore,
        *,
        ttl: float = LIST_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._clock = clock
        self._builtin = builtin_templates()
        self._own: list[Template] | None = None
        self._read_at = 0.0
        self._reading: asyncio.Future[list[Template]] | None = None

    async def add(self, template: Template, *, created_by: str) -> None:
        """Store a new version (DuplicateVersion if it exists) and know it at once here."""
        if self._find(await self._versions(), template.id, template.template_version):
            raise DuplicateVersion(f"{template.id} {template.template_version}")
        await self._store.add(template, created_by=created_by)
        self._own = None

    async def versions(self) -> list[Template]:
        return await self._versions()

    async def latest(self) -> list[Template]:
        newest: dict[str, Template] = {}
        for template in await self.versions():
            known = newest.get(template.id)
            if known is None or _version_key(template) > _version_key(known):
                newest[template.id] = template
        return sorted(newest.values(), key=lambda t: (t.kind, t.short_name.lower()))

    async def get(self, instrument_id: str, version: str | None = None) -> Template | None:
        found = self._find(await self._versions(), instrument_id, version)
        if found is None and self._clock() - self._read_at >= MISS_REREAD:
            found = self._find(await self._versions(reread=True), instrument_id, version)
        return found

    @staticmethod
    def _find(
        templates: list[Template], instrument_id: str, version: str | None
    ) -> Template | None:
        matching = [t for t in templates if t.id == instrument_id]
        if version is not None:
            return next((t for t in matching if t.template_version == version), None)
        return max(matching, key=_version_key, default=None)

    async def _versions(self, *, reread: bool = False) -> list[Template]:
        stale = self._clock() - self._read_at >= self._ttl
        if self._own is None or stale or reread:
            self._own = await self._read()
        return [*self._builtin, *self._own]

    async def _read(self) -> list[Template]:
        # Callers that arrive while a read is under way share it: one query, not one each.
        if self._reading is None:
            self._reading = asyncio.ensure_future(self._store.all())
            self._reading.add_done_callback(lambda _: self._forget_read())
            self._read_at = self._clock()
        return await asyncio.shield(self._reading)

    def _forget_read(self) -> None:
        self._reading = None
