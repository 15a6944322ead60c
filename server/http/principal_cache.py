"""Signed-in principals kept for a moment per login, so a page load or a burst of joins does not
look up the same sign-in, account and assignments once per request.

Only principals whose rights can only shrink are kept: accounts, and guests already admitted. A
waiting guest is looked up every time, so an admission counts at once on every node. What
shrinks rights (sign-out, revocation, disabling, withdrawal) forgets the entries on this node at
once; other nodes forget within ``ttl_s``, the same second the sockets are given to close.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from server.access.principal import Principal

__all__ = ["PrincipalCache"]


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    until: float


class PrincipalCache:
    def __init__(
        self,
        *,
        ttl_s: float = 1.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl_s = ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def get(self, token_hash: str) -> Principal | None:
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        if self._clock() >= entry.until:
            del self._entries[token_hash]
            return None
        return entry.principal

    def put(self, token_hash: str, principal: Principal) -> None:
        if principal.is_guest and not principal.admitted:
            return
        self._entries[token_hash] = _Entry(principal, self._clock() + self._ttl_s)
        self._entries.move_to_end(token_hash)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)

    def forget_logins(self, token_hashes: Iterable[str]) -> None:
        for token_hash in token_hashes:
            self._entries.pop(token_hash, None)

    def forget_subject(self, subject_id: str) -> None:
        """Every login of one account or guest (disabled, its password reset, denied)."""
        self.forget_logins(
            [key for key, entry in self._entries.items() if entry.principal.id == subject_id]
        )

    def clear(self) -> None:
        self._entries.clear()
