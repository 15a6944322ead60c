"""The append-only audit log, hash-chained (see :mod:`server.infra.audit_chain`)."""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from server.infra.audit_chain import AuditEvent, ChainBreak, Link, event_hash, walk
from server.infra.storage.schema import audit_events, audit_head
from server.infra.storage.writes import Writes

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


# Built once: a statement built per call costs its cache key each time (~20 us of a write).
_HEAD = sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
_INSERT = audit_events.insert()
_MOVE_HEAD = (
    audit_head.update()
    .where(audit_head.c.id == 1)
    .values(seq=sa.bindparam("seq"), hash=sa.bindparam("hash"))
)


def _append(entries: list[NewAuditEvent], connection: sa.Connection) -> list[AuditEvent]:
    events: list[AuditEvent] = []
    # Locking the head row serialises appenders across connections and nodes.
    head = connection.execute(_HEAD).one()
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
                seq, at, entry.actor_id, entry.action, entry.target, entry.ip, detail, prev, digest
            )
        )
        prev = digest
    connection.execute(
        _INSERT,
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
    connection.execute(_MOVE_HEAD, {"seq": seq, "hash": prev})
    return events


class AuditLog:
    def __init__(self, engine: AsyncEngine, writes: Writes) -> None:
        self._engine = engine
        self._writes = writes

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
        return await self._writes.run(functools.partial(_append, list(entries)))

    async def recent(self, limit: int = 100, action: str | None = None) -> list[AuditEvent]:
        query = sa.select(audit_events).order_by(audit_events.c.seq.desc()).limit(limit)
        if action is not None:
            query = query.where(audit_events.c.action == action)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_event(row._mapping) for row in rows]

    async def about(
        self,
        target: str,
        *,
        actions: Sequence[str] = (),
        prefixes: Sequence[str] = (),
        before: int | None = None,
        limit: int | None = None,
    ) -> list[AuditEvent]:
        """Events about one target (a session: joins, admissions, marks, feedback), oldest first.

        ``actions`` / ``prefixes`` keep only those actions (exact / by prefix; both empty: all).
        With ``limit``, the newest ``limit`` of them before seq ``before`` (a page, read
        backwards by the ``audit_events.target`` index), still returned oldest first."""
        query = sa.select(audit_events).where(audit_events.c.target == target)
        wanted: list[sa.ColumnElement[bool]] = []
        if actions:
            wanted.append(audit_events.c.action.in_(actions))
        wanted += [audit_events.c.action.startswith(p, autoescape=True) for p in prefixes]
        if wanted:
            query = query.where(sa.or_(*wanted))
        if before is not None:
            query = query.where(audit_events.c.seq < before)
        if limit is None:
            query = query.order_by(audit_events.c.seq)
        else:
            query = query.order_by(audit_events.c.seq.desc()).limit(limit)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        events = [_event(row._mapping) for row in rows]
        return events if limit is None else events[::-1]

    async def about_any(
        self,
        targets: Sequence[str],
        *,
        actions: Sequence[str],
        not_by: str | None = None,
        before: int | None = None,
        limit: int,
    ) -> list[AuditEvent]:
        """The newest ``limit`` events about any of ``targets`` (a trainee and their sessions)
        with one of ``actions``, before seq ``before``, newest first; ``not_by`` leaves out one
        actor's own events (a trainee's own looks at their record)."""
        if not targets:
            return []
        query = sa.select(audit_events).where(
            audit_events.c.target.in_(list(targets)), audit_events.c.action.in_(list(actions))
        )
        if not_by is not None:
            query = query.where(
                sa.or_(audit_events.c.actor_id.is_(None), audit_events.c.actor_id != not_by)
            )
        if before is not None:
            query = query.where(audit_events.c.seq < before)
        query = query.order_by(audit_events.c.seq.desc()).limit(limit)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_event(row._mapping) for row in rows]

    async def chunks(
        self, *, after: int = 0, upto: int | None = None, size: int = _VERIFY_BATCH
    ) -> AsyncIterator[list[sa.Row[Any]]]:
        """The log's rows in seq order, ``size`` at a time (keyset pagination on seq, one short
        read each, so a long walk neither holds memory nor a read transaction)."""
        last_seq = after
        while True:
            query = (
                sa.select(audit_events)
                .where(audit_events.c.seq > last_seq)
                .order_by(audit_events.c.seq)
                .limit(size)
            )
            if upto is not None:
                query = query.where(audit_events.c.seq <= upto)
            async with self._engine.connect() as connection:
                rows = list((await connection.execute(query)).all())
            if not rows:
                return
            yield rows
            last_seq = int(rows[-1].seq)
            if len(rows) < size:
                return

    async def verify(self, *, chunk: int = _VERIFY_BATCH) -> tuple[int, ChainBreak | None]:
        """Walk the whole chain; returns how many events were checked and the first break.

        Constant memory: the log is read ``chunk`` rows at a time and each chunk is hashed in a
        worker thread (SHA-256 over thousands of rows must not stall the event loop)."""
        # The head first: events appended while we walk are past it and not our concern.
        async with self._engine.connect() as connection:
            head = (
                await connection.execute(
                    sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
                )
            ).one()
        head_seq, head_hash = int(head.seq), str(head.hash)
        link = Link()
        checked = 0
        broken: ChainBreak | None = None
        async for rows in self.chunks(upto=head_seq, size=chunk):
            checked += len(rows)
            if broken is None:
                broken, link = await asyncio.to_thread(_check, rows, link)
        if broken is None and head_seq > 0 and (link.seq - 1, link.hash) != (head_seq, head_hash):
            # The rows agree with each other but not with the head: events were cut off the end.
            broken = ChainBreak(link.seq, "events after this point were removed")
        return checked, broken


def _check(rows: Sequence[sa.Row[Any]], link: Link) -> tuple[ChainBreak | None, Link]:
    """Check one chunk from ``link`` on; runs in a worker thread."""
    return walk((_event(row._mapping) for row in rows), link)
