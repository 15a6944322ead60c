"""The audit log's hash chain, free of I/O: how a link is hashed and how a chain is checked.

Each event's hash is SHA-256 over the previous hash and a canonical JSON of the event, so editing,
deleting or reordering any stored event breaks every link after it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = ["GENESIS_HASH", "AuditEvent", "ChainBreak", "event_hash", "find_break"]

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


def find_break(events: Iterable[AuditEvent]) -> ChainBreak | None:
    """Return the first event whose link does not hold, or ``None`` when the chain is intact."""
    prev_hash = GENESIS_HASH
    expected_seq = 1
    for event in events:
        if event.seq != expected_seq:
            return ChainBreak(expected_seq, f"event {expected_seq} is missing")
        if event.prev_hash != prev_hash:
            return ChainBreak(event.seq, "previous-hash link does not match")
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
            return ChainBreak(event.seq, "content does not match its hash")
        prev_hash = event.hash
        expected_seq += 1
    return None
