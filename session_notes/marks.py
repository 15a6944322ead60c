"""Marks: moments of a session the mentor flagged to discuss (DESIGN.md §2), and their storage.

Table: :data:`session_notes.schema.marks`."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from session_notes.schema import marks

__all__ = ["MarkRecord", "MarkStore"]


@dataclass(frozen=True)
class MarkRecord:
    id: str
    session_id: str
    label: str
    tags: tuple[str, ...]
    at_ms: int
    by_subject: str
    created_at: float


class MarkStore:
    def __init__(self, engine: AsyncEngine, writer: AsyncEngine) -> None:
        """``writer``: the same engine set up for write transactions (SQLite BEGIN IMMEDIATE)."""
        self._engine = engine
        self._writer = writer

    async def add(
        self,
        *,
        mark_id: str,
        session_id: str,
        label: str,
        tags: Sequence[str],
        at_ms: int,
        by_subject: str,
    ) -> MarkRecord:
        record = MarkRecord(mark_id, session_id, label, tuple(tags), at_ms, by_subject, time.time())
        async with self._writer.begin() as connection:
            await connection.execute(
                marks.insert().values(
                    id=record.id,
                    session_id=session_id,
                    label=label,
                    tags=json.dumps(list(record.tags)),
                    at_ms=at_ms,
                    by_subject=by_subject,
                    created_at=record.created_at,
                )
            )
        return record

    async def for_session(self, session_id: str) -> list[MarkRecord]:
        return await self.for_sessions([session_id])

    async def counts(self, session_ids: Sequence[str]) -> dict[str, int]:
        """How many marks each session has (sessions without marks are left out)."""
        if not session_ids:
            return {}
        query = (
            sa.select(marks.c.session_id, sa.func.count())
            .where(marks.c.session_id.in_(list(session_ids)))
            .group_by(marks.c.session_id)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return {session_id: int(n) for session_id, n in rows}

    async def for_sessions(self, session_ids: Sequence[str]) -> list[MarkRecord]:
        """The marks of several sessions in one query (a trainee's progress cites many)."""
        if not session_ids:
            return []
        async with self._engine.connect() as connection:
            rows = (
                await connection.execute(
                    sa.select(marks)
                    .where(marks.c.session_id.in_(list(session_ids)))
                    .order_by(marks.c.at_ms)
                )
            ).all()
        return [
            MarkRecord(
                r.id,
                r.session_id,
                r.label,
                tuple(json.loads(r.tags)),
                r.at_ms,
                r.by_subject,
                r.created_at,
            )
            for r in rows
        ]
