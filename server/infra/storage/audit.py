"""The append-only audit log, hash-chained (see :mod:`server.infra.audit_chain`)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from server.infra.audit_chain import AuditEvent, ChainBreak, event_hash, find_break
from server.infra.storage.engine import for_writing
from server.infra.storage.schema import audit_events, audit_head

__all__ = ["AuditLog", "NewAuditEvent"]

_VERIFY_BATCH = 1000


def _event(mapping: sa.RowMapping) -> AuditEvent:
    m = mapping
    return AuditEvent(
        seq=int(m["seq"]),
        at=float(m["at"]),
        actor_id=m["actor_id"],
        action=str(m["action"]),
        target=m["target"],
        ip=m["ip"],
        detail=json.loads(m["detail"]),
        prev_hash=str(m["prev_hash"]),
        hash=str(m["hash"]),
    )


@dataclass(frozen=True)
class NewAuditEvent:
    action: str
    actor_id: str | None = None
    target: str | None = None
    ip: str | None = None
    detail: Mapping[str, str] = field(default_factory=dict)
    at: float | None = None


class AuditLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._writer = for_writing(engine)

    async def append(
        self,
        action: str,
        *,
        actor_id: str | None = None,
        target: str | None = None,
        ip: str | None = None,
        detail: Mapping[str, str] | None = None,
        now: float | None = None,
    ) -> AuditEvent:
        entry = NewAuditEvent(action, actor_id, target, ip, dict(detail or {}), now)
        return (await self.append_many([entry]))[0]

    async def append_many(self, entries: Sequence[NewAuditEvent]) -> list[AuditEvent]:
        """Append events in order, in one transaction (one fsync for all of them)."""
        if not entries:
            return []
        events: list[AuditEvent] = []
        async with self._writer.begin() as connection:
            # Locking the head row serialises appenders across connections and nodes.
            head = (
                await connection.execute(
                    sa.select(audit_head.c.seq, audit_head.c.hash)
                    .where(audit_head.c.id == 1)
                    .with_for_update()
                )
            ).one()
            seq, prev = int(head.seq), str(head.hash)
            for entry in entries:
                seq += 1
                at = time.time() if entry.at is None else entry.at
                detail = dict(entry.detail)
                digest = event_hash(
                    prev,
                    seq=seq,
                    at=at,
                    actor_id=entry.actor_id,
                    action=entry.action,
                    target=entry.target,
                    ip=entry.ip,
                    detail=detail,
                )
                events.append(
                    AuditEvent(
                        seq,
                        at,
                        entry.actor_id,
                        entry.action,
                        entry.target,
                        entry.ip,
                        detail,
                        prev,
                        digest,
                    )
                )
                prev = digest
            await connection.execute(
                audit_events.insert(),
                [
                    {
                        "seq": e.seq,
                        "at": e.at,
                        "actor_id": e.actor_id,
                        "action": e.action,
                        "target": e.target,
                        "ip": e.ip,
                        "detail": json.dumps(dict(e.detail), sort_keys=True),
                        "prev_hash": e.prev_hash,
                        "hash": e.hash,
                    }
                    for e in events
                ],
            )
            await connection.execute(
                audit_head.update().where(audit_head.c.id == 1).values(seq=seq, hash=prev)
            )
        return events

    async def recent(self, limit: int = 100, action: str | None = None) -> list[AuditEvent]:
        query = sa.select(audit_events).order_by(audit_events.c.seq.desc()).limit(limit)
        if action is not None:
            query = query.where(audit_events.c.action == action)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_event(row._mapping) for row in rows]

    async def about(self, target: str, limit: int = 2000) -> list[AuditEvent]:
        """Events about one target (a session: joins, admissions, marks, feedback), oldest first."""
        query = (
            sa.select(audit_events)
            .where(audit_events.c.target == target)
            .order_by(audit_events.c.seq)
            .limit(limit)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_event(row._mapping) for row in rows]

    async def verify(self) -> tuple[int, ChainBreak | None]:
        """Walk the whole chain; returns how many events were checked and the first break."""
        events: list[AuditEvent] = []
        async with self._engine.connect() as connection:
            last_seq = 0
            while True:
                rows = (
                    await connection.execute(
                        sa.select(audit_events)
                        .where(audit_events.c.seq > last_seq)
                        .order_by(audit_events.c.seq)
                        .limit(_VERIFY_BATCH)
                    )
                ).all()
                if not rows:
                    break
                events.extend(_event(row._mapping) for row in rows)
                last_seq = events[-1].seq
            head = (
                await connection.execute(
                    sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
                )
            ).one()
        broken = find_break(events)
        if broken is None and (head.seq, head.hash) != (
            (events[-1].seq, events[-1].hash) if events else (0, head.hash)
        ):
            # The rows agree with each other but not with the head: events were cut off the end.
            broken = ChainBreak(len(events) + 1, "events after this point were removed")
        return len(events), broken
