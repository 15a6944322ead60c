"""The append-only audit log, hash-chained (see :mod:`server.audit_chain`)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from server.audit_chain import AuditEvent, ChainBreak, event_hash, find_break
from server.storage.engine import for_writing
from server.storage.schema import audit_events, audit_head

__all__ = ["AuditLog"]

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
        at = time.time() if now is None else now
        detail = dict(detail or {})
        async with self._writer.begin() as connection:
            # Locking the head row serialises appenders across connections and nodes.
            head = (
                await connection.execute(
                    sa.select(audit_head.c.seq, audit_head.c.hash)
                    .where(audit_head.c.id == 1)
                    .with_for_update()
                )
            ).one()
            seq = int(head.seq) + 1
            digest = event_hash(
                head.hash,
                seq=seq,
                at=at,
                actor_id=actor_id,
                action=action,
                target=target,
                ip=ip,
                detail=detail,
            )
            await connection.execute(
                audit_events.insert().values(
                    seq=seq,
                    at=at,
                    actor_id=actor_id,
                    action=action,
                    target=target,
                    ip=ip,
                    detail=json.dumps(detail, sort_keys=True),
                    prev_hash=head.hash,
                    hash=digest,
                )
            )
            await connection.execute(
                audit_head.update().where(audit_head.c.id == 1).values(seq=seq, hash=digest)
            )
        return AuditEvent(seq, at, actor_id, action, target, ip, detail, head.hash, digest)

    async def recent(self, limit: int = 100, action: str | None = None) -> list[AuditEvent]:
        query = sa.select(audit_events).order_by(audit_events.c.seq.desc()).limit(limit)
        if action is not None:
            query = query.where(audit_events.c.action == action)
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
