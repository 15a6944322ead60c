"""Speaking time: milliseconds each person spoke per minute of a session (issue 11).

The media peer reports what it heard since its last report; each report is added to the minute's
row (the same minute is reported again while it lasts, and again by a new owner node if the room
moves), capped at the minute's length.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from server.infra.storage.engine import for_writing
from server.infra.storage.schema import speaking_time

__all__ = ["PersonSpeech", "SpeakingMinute", "SpeakingStore", "by_person"]

MINUTE_MS = 60_000


@dataclass(frozen=True)
class SpeakingMinute:
    session_id: str
    subject: str
    """Who spoke: the account's or guest's id, as the record names people."""
    minute: int
    """Minutes since the session's start."""
    ms: int


class SpeakingStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._writer = for_writing(engine)

    async def add(self, minutes: Iterable[SpeakingMinute]) -> None:
        """Add each minute's milliseconds to what is stored (one transaction)."""
        merged: dict[tuple[str, str, int], int] = {}
        for m in minutes:
            key = (m.session_id, m.subject, m.minute)
            merged[key] = merged.get(key, 0) + max(0, m.ms)
        if not merged:
            return
        rows = [
            {"session_id": s, "subject": who, "minute": minute, "speaking_ms": min(ms, MINUTE_MS)}
            for (s, who, minute), ms in sorted(merged.items())
        ]
        async with self._writer.begin() as connection:
            insert = (
                postgresql.insert(speaking_time)
                if connection.dialect.name == "postgresql"
                else sqlite.insert(speaking_time)
            )
            total = speaking_time.c.speaking_ms + insert.excluded.speaking_ms
            await connection.execute(
                insert.on_conflict_do_update(
                    index_elements=["session_id", "subject", "minute"],
                    set_={"speaking_ms": sa.case((total > MINUTE_MS, MINUTE_MS), else_=total)},
                ),
                rows,
            )

    async def for_session(self, session_id: str) -> list[SpeakingMinute]:
        """The session's minutes, by person then minute."""
        query = (
            sa.select(speaking_time)
            .where(speaking_time.c.session_id == session_id)
            .order_by(speaking_time.c.subject, speaking_time.c.minute)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [SpeakingMinute(r.session_id, r.subject, r.minute, r.speaking_ms) for r in rows]


@dataclass(frozen=True)
class PersonSpeech:
    subject: str
    total_ms: int
    share: float
    """Of everyone's speech in the session, 0-1."""
    minutes: tuple[tuple[int, int], ...]
    """(minute, ms), by minute."""


def by_person(minutes: Iterable[SpeakingMinute]) -> list[PersonSpeech]:
    """Each person's total, share and series, the most talkative first."""
    series: dict[str, list[tuple[int, int]]] = {}
    for m in minutes:
        series.setdefault(m.subject, []).append((m.minute, m.ms))
    for points in series.values():
        points.sort()
    totals = {who: sum(ms for _, ms in points) for who, points in series.items()}
    everyone = sum(totals.values())
    return [
        PersonSpeech(who, totals[who], totals[who] / everyone if everyone else 0.0, tuple(points))
        for who, points in sorted(series.items(), key=lambda kv: (-totals[kv[0]], kv[0]))
    ]
