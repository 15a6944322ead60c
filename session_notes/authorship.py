"""Who wrote what: replaying the stored updates in order attributes every piece of the text to
the member whose update inserted it, and finds the updates that changed the text (the versions a
supervisor steps through). A version's text is rebuilt on demand from the updates up to it, so
listing versions never costs the whole text per update."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pycrdt import Doc, Text, TextEvent

from session_notes.document import TEXT_NAME

__all__ = [
    "AuthoredRun",
    "StoredUpdate",
    "Version",
    "VersionInfo",
    "authored_runs",
    "history_index",
    "version_at",
]


@dataclass(frozen=True)
class StoredUpdate:
    id: int
    update: bytes
    author_id: str
    author_name: str
    at: float


@dataclass(frozen=True)
class AuthoredRun:
    author_id: str
    author_name: str
    text: str


@dataclass(frozen=True)
class VersionInfo:
    """An update that changed the text: when, and by whom."""

    id: int
    at: float
    author_id: str
    author_name: str


@dataclass(frozen=True)
class Version:
    id: int
    at: float
    author_id: str
    author_name: str
    text: str
    authored: list[AuthoredRun]


class _Attribution:
    """Author per UTF-8 byte of the text; pycrdt deltas count UTF-8 bytes (DESIGN.md §3b)."""

    def __init__(self) -> None:
        self.text = bytearray()
        self.authors: list[tuple[str, str]] = []
        self.changes = 0  # inserts and deletes seen: an update that changed the text adds some

    def apply(self, delta: list[dict[str, Any]], author: tuple[str, str]) -> None:
        pos = 0
        for op in delta:
            if "retain" in op:
                pos += int(op["retain"])
            elif "insert" in op:
                inserted = str(op["insert"]).encode("utf-8")
                self.text[pos:pos] = inserted
                self.authors[pos:pos] = [author] * len(inserted)
                pos += len(inserted)
                self.changes += 1
            elif "delete" in op:
                count = int(op["delete"])
                del self.text[pos : pos + count]
                del self.authors[pos : pos + count]
                self.changes += 1

    def runs(self) -> list[AuthoredRun]:
        runs: list[AuthoredRun] = []
        start = 0
        for i in range(1, len(self.authors) + 1):
            if i == len(self.authors) or self.authors[i] != self.authors[start]:
                author_id, author_name = self.authors[start]
                chunk = bytes(self.text[start:i]).decode("utf-8", "replace")
                runs.append(AuthoredRun(author_id, author_name, chunk))
                start = i
        return runs


def _replay(
    snapshot: bytes | None, updates: Iterable[StoredUpdate]
) -> Iterator[tuple[StoredUpdate, Text, _Attribution]]:
    doc: Doc[Any] = Doc()
    text = doc.get(TEXT_NAME, type=Text)
    attribution = _Attribution()
    if snapshot:
        doc.apply_update(snapshot)
        current = str(text).encode("utf-8")
        attribution.text = bytearray(current)
        attribution.authors = [("", "earlier")] * len(current)
    author: list[tuple[str, str]] = [("", "")]

    def observe(event: TextEvent) -> None:
        attribution.apply(list(getattr(event, "delta", [])), author[0])

    subscription = text.observe(observe)
    try:
        for stored in updates:
            author[0] = (stored.author_id, stored.author_name)
            doc.apply_update(stored.update)
            yield stored, text, attribution
    finally:
        text.unobserve(subscription)


def authored_runs(updates: Iterable[StoredUpdate]) -> list[AuthoredRun]:
    """The current text as runs of one author each, from the full update history."""
    return history_index(updates)[0]


def history_index(
    updates: Iterable[StoredUpdate],
) -> tuple[list[AuthoredRun], list[VersionInfo]]:
    """One replay, linear in the history: the current text's authored runs, and the updates
    that changed the text, oldest first (no text per version)."""
    last = _Attribution()
    found: list[VersionInfo] = []
    seen = 0
    for stored, _text, attribution in _replay(None, updates):
        last = attribution
        if attribution.changes != seen:
            seen = attribution.changes
            found.append(VersionInfo(stored.id, stored.at, stored.author_id, stored.author_name))
    return last.runs(), found


def version_at(updates: Iterable[StoredUpdate], version_id: int) -> Version | None:
    """The text (and who wrote which part of it) right after the update ``version_id``; None
    when no update of ``updates`` has that id. ``updates`` may stop at ``version_id``."""
    for stored, text, attribution in _replay(None, updates):
        if stored.id == version_id:
            return Version(
                stored.id,
                stored.at,
                stored.author_id,
                stored.author_name,
                str(text),
                attribution.runs(),
            )
        if stored.id > version_id:
            break
    return None
