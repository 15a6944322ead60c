"""The audit log's hash chain, free of I/O: how a link is hashed and how a chain is checked.

Each event's hash is SHA-256 over the previous hash and a canonical JSON of the event, so editing,
deleting or reordering any stored event breaks every link after it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["GENESIS_HASH", "AuditEvent", "ChainBreak", "Link", "event_hash", "find_break", "walk"]

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    at: float
    actor_id: str | None
    action: str
    target: str | None
    ip: str | None
    detail: Mapping[str, str]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str


def event_hash(
    prev_hash: str,
    *,
    seq: int,
    at: float,
    actor_id: str | None,
    action: str,
    target: str | None,
    ip: str | None,
    detail: Mapping[str, str],
) -> str:
    body = json.dumps(
        {
            "seq": seq,
            "at": repr(float(at)),
            "actor_id": actor_id,
            "action": action,
            "target": target,
            "ip": ip,
            "detail": dict(detail),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


@dataclass(frozen=True)
class Link:
    """Where a walk of the chain stands: the last hash seen and the seq expected next."""

    hash: str = GENESIS_HASH
    seq: int = 1


def walk(events: Iterable[AuditEvent], link: Link) -> tuple[ChainBreak | None, Link]:
    """Check ``events`` as the continuation of a chain walked up to ``link``.

    Returns the first break (with the link before it) or ``None`` and the link after the last
    event, so a long chain can be checked in chunks."""
    prev_hash, expected = link.hash, link.seq
    for event in events:
        if event.seq != expected:
            return ChainBreak(expected, f"event {expected} is missing"), link
        if event.prev_hash != prev_hash:
            return ChainBreak(event.seq, "previous-hash link does not match"), link
        recomputed = event_hash(
            prev_hash,
            seq=event.seq,
            at=event.at,
            actor_id=event.actor_id,
            action=event.action,
            target=event.target,
            ip=event.ip,
            detail=event.detail,
        )
        if recomputed != event.hash:
            return ChainBreak(event.seq, "content does not match its hash"), link
        prev_hash, expected = event.hash, expected + 1
        link = Link(prev_hash, expected)
    return None, link


def find_break(events: Iterable[AuditEvent]) -> ChainBreak | None:
    """Return the first event whose link does not hold, or ``None`` when the chain is intact."""
    broken, _end = walk(events, Link())
    return broken
