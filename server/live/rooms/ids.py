"""The ids a node mints for its rooms: connection ids and peer (and mark, chat) ids. Resume
tokens, the one secret a room hands out, stay with ``secrets`` (one draw per join).

Each is drawn from keyed BLAKE2b over a counter (keyed BLAKE2 is a pseudorandom function,
RFC 7693: without the key, 32 bytes of ``os.urandom`` taken once, no output tells anything of
another), not from ``os.urandom`` per id. ``os.urandom`` releases the GIL around its syscall,
and under a burst of joins each release let the SQL threads take the GIL for up to a switch
interval (5 ms) before the event loop got it back (issue 8: four draws per join; measured in a
100-join burst on a loaded machine, 38 ms in all, the slowest single draw 10 ms). The ids are
not secrets (members see each other's), but they stay unguessable.
"""

from __future__ import annotations

import hashlib
import itertools
import os

__all__ = ["IdMint"]

_KEY_BYTES = 32
_COUNTER_BYTES = 16


class IdMint:
    def __init__(self, key: bytes | None = None) -> None:
        """``key``: for tests; by default a fresh one from the operating system."""
        self._key = key if key is not None else os.urandom(_KEY_BYTES)
        self._counter = itertools.count()

    def _draw(self, size: int) -> bytes:
        block = next(self._counter).to_bytes(_COUNTER_BYTES, "big")
        return hashlib.blake2b(block, key=self._key, digest_size=size).digest()

    def hex(self, size: int) -> str:
        """``size`` random bytes as hex (``uuid4().hex`` is ``hex(16)``)."""
        return self._draw(size).hex()
