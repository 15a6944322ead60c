"""One session's shared notes: a pycrdt document whose ``Y.Text`` named ``notes`` holds the text.

The server never edits the text itself (pycrdt's text indices are UTF-8 byte offsets, DESIGN.md
§3b); it only validates, applies and hands out updates written by the clients.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pycrdt import Doc, Text, get_state, get_update, merge_updates

__all__ = ["TEXT_NAME", "InvalidUpdate", "NotesDocument", "check_update"]

TEXT_NAME = "notes"
MAX_UPDATE_BYTES = 256 * 1024


class InvalidUpdate(Exception):
    """Bytes that do not decode as a Yjs (v1) update."""


def check_update(update: bytes) -> None:
    """Raise :class:`InvalidUpdate` unless ``update`` decodes; touches no document."""
    if len(update) > MAX_UPDATE_BYTES:
        raise InvalidUpdate(f"an update is at most {MAX_UPDATE_BYTES} bytes")
    try:
        get_state(update)
    except Exception as exc:  # pycrdt reports undecodable input as ValueError
        raise InvalidUpdate(str(exc)) from None


class NotesDocument:
    def __init__(self) -> None:
        self._doc: Doc[Any] = Doc()
        self._text = self._doc.get(TEXT_NAME, type=Text)

    @classmethod
    def load(cls, snapshot: bytes | None, updates: Iterable[bytes]) -> NotesDocument:
        document = cls()
        # Stored data was checked on the way in; a snapshot is a whole document, larger than
        # any one update may be.
        if snapshot:
            document._apply(snapshot)
        for update in updates:
            document._apply(update)
        return document

    @property
    def text(self) -> str:
        return str(self._text)

    def state_vector(self) -> bytes:
        return self._doc.get_state()

    def missing_for(self, state_vector: bytes) -> bytes:
        """What a peer with ``state_vector`` lacks (the body of a sync step 2)."""
        try:
            return self._doc.get_update(state_vector)
        except Exception as exc:
            raise InvalidUpdate(f"not a state vector: {exc}") from None

    def snapshot(self) -> bytes:
        return self._doc.get_update()

    def apply(self, update: bytes) -> None:
        """Apply a member's update (checked, bounded in size)."""
        check_update(update)
        self._apply(update)

    def apply_checked(self, update: bytes) -> None:
        """Apply an update that passed :func:`check_update` on its way in (decoding it twice
        was a tenth of a relayed update's CPU in bench/notes.py)."""
        self._apply(update)

    def _apply(self, update: bytes) -> None:
        try:
            self._doc.apply_update(update)
        except Exception as exc:
            raise InvalidUpdate(str(exc)) from None

    def has_pending(self, updates: list[bytes]) -> bool:
        """Whether any of ``updates`` is not integrated yet (it waits for an update it depends
        on). Compacting then would drop it: ``get_update`` omits pending structs (§3b)."""
        if not updates:
            return False
        remaining = get_update(merge_updates(*updates), self._doc.get_state())
        return remaining not in (b"", b"\x00\x00")
