"""Who wrote what: replaying the stored updates in order attributes every piece of the text to
the member whose update inserted it, and yields the text after each update (the versions a
supervisor steps through)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pycrdt import Doc, Text, TextEvent

from session_notes.document import TEXT_NAME

__all__ = ["AuthoredRun", "StoredUpdate", "Version", "authored_runs", "versions"]


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
class Version:
    id: int
    at: float
    author_id: str
    author_name: str
    text: str


class _Attribution:
    """Author per UTF-8 byte of the text; pycrdt deltas count UTF-8 bytes (DESIGN.md §3b)."""

    def __init__(self) -> None:
        self.text = bytearray()
        self.authors: list[tuple[str, str]] = []

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
            elif "delete" in op:
                count = int(op["delete"])
                del self.text[pos : pos + count]
                del self.authors[pos : pos + count]

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
    last = _Attribution()
    for _stored, _text, attribution in _replay(None, updates):
        last = attribution
    return last.runs()


def versions(updates: Iterable[StoredUpdate]) -> list[Version]:
    """The text after each update that changed it."""
    out: list[Version] = []
    previous = ""
    for stored, text, _ in _replay(None, updates):
        current = str(text)
        if current != previous:
            out.append(Version(stored.id, stored.at, stored.author_id, stored.author_name, current))
            previous = current
    return out
