"""Mentoring sessions and the trainees taking part in them."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.infra.storage.engine import IN_CHUNK, for_writing
from server.infra.storage.reads import Reads, rows_of
from server.infra.storage.schema import session_trainees, sessions, supervisor_assignments
from server.infra.storage.writes import Writes

__all__ = ["Session", "SessionStatus", "SessionStore", "read_session"]


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"


@dataclass(frozen=True)
class Session:
    id: str
    title: str
    mentor_id: str
    trainee_ids: tuple[str, ...]
    status: SessionStatus
    media_mode: str
    scheduled_for: float | None
    created_at: float
    started_at: float | None
    ended_at: float | None
    observers_hidden: bool = False
    """Supervisors observe unseen by trainees and guests (the mentor always sees them)."""


class SessionStore:
    def __init__(self, engine: AsyncEngine, reads: Reads, writes: Writes) -> None:
        self._engine = engine
        self._reads = reads
        self._writes = writes
        self._writer = for_writing(engine)

    async def create(
        self,
        *,
        title: str,
        mentor_id: str,
        trainee_ids: Sequence[str],
        media_mode: str,
        scheduled_for: float | None,
        observers_hidden: bool = False,
    ) -> Session:
        session = Session(
            id=uuid.uuid4().hex,
            title=title.strip(),
            mentor_id=mentor_id,
            trainee_ids=tuple(dict.fromkeys(trainee_ids)),
            status=SessionStatus.SCHEDULED,
            media_mode=media_mode,
            scheduled_for=scheduled_for,
            created_at=time.time(),
            started_at=None,
            ended_at=None,
            observers_hidden=observers_hidden,
        )
        async with self._writer.begin() as connection:
            await connection.execute(
                sessions.insert().values(
                    id=session.id,
                    title=session.title,
                    mentor_id=mentor_id,
                    status=session.status.value,
                    media_mode=media_mode,
                    observers_hidden=observers_hidden,
                    scheduled_for=scheduled_for,
                    created_at=session.created_at,
                )
            )
            if session.trainee_ids:
                await connection.execute(
                    session_trainees.insert(),
                    [{"session_id": session.id, "trainee_id": t} for t in session.trainee_ids],
                )
        return session

    async def get(self, session_id: str) -> Session | None:
        # Every socket's handshake and most routes read their session: one step (reads.py).
        return await self._reads.run(lambda connection: read_session(connection, session_id))

    async def for_mentor(self, mentor_id: str) -> list[Session]:
        return await self._load(sessions.c.mentor_id == mentor_id)

    async def for_trainee(self, trainee_id: str) -> list[Session]:
        listed = sa.select(session_trainees.c.session_id).where(
            session_trainees.c.trainee_id == trainee_id
        )
        return await self._load(sessions.c.id.in_(listed))

    async def for_supervisor(self, supervisor_id: str) -> list[Session]:
        followed = sa.select(supervisor_assignments.c.trainee_id).where(
            supervisor_assignments.c.supervisor_id == supervisor_id
        )
        listed = sa.select(session_trainees.c.session_id).where(
            session_trainees.c.trainee_id.in_(followed)
        )
        return await self._load(sessions.c.id.in_(listed))

    async def everything(self) -> list[Session]:
        return await self._load(sa.true())

    async def ended_among(self, session_ids: Sequence[str]) -> list[Session]:
        """Those of ``session_ids`` that have ended (a node's open notes rooms, checked in one
        read in case the end never reached it on the bus)."""
        ended: list[Session] = []
        # In chunks: a node may hold more than one statement can bind (PostgreSQL: 32,767).
        for start in range(0, len(session_ids), IN_CHUNK):
            chunk = list(session_ids[start : start + IN_CHUNK])
            ended += await self._load(
                sa.and_(sessions.c.id.in_(chunk), sessions.c.status == SessionStatus.ENDED)
            )
        return ended

    async def hide_observers(self, session_id: str, hidden: bool) -> None:
        async with self._writer.begin() as connection:
            await connection.execute(
                sessions.update().where(sessions.c.id == session_id).values(observers_hidden=hidden)
            )

    async def add_trainee(self, session_id: str, trainee_id: str) -> bool:
        """List a trainee account in the session; False when it already was."""
        try:
            async with self._writer.begin() as connection:
                await connection.execute(
                    session_trainees.insert().values(session_id=session_id, trainee_id=trainee_id)
                )
        except IntegrityError:
            return False
        return True

    async def remove_trainee(self, session_id: str, trainee_id: str) -> bool:
        """Take a trainee account off the session; False when it was not listed."""
        async with self._writer.begin() as connection:
            result = await connection.execute(
                session_trainees.delete().where(
                    session_trainees.c.session_id == session_id,
                    session_trainees.c.trainee_id == trainee_id,
                )
            )
        return result.rowcount == 1

    async def mark_live(self, session_id: str, *, now: float) -> None:
        """The first member entered the room; a no-op unless the session was scheduled."""
        await self.mark_live_many([(session_id, now)])

    async def mark_live_many(self, went_live: Sequence[tuple[str, float]]) -> None:
        """``mark_live`` for each (session id, when), in one transaction: a burst of rooms
        opening is one write, not one each (issue 8)."""
        if not went_live:
            return
        params = [{"session_id": s, "now": at} for s, at in went_live]
        await self._writes.run(lambda connection: connection.execute(_MARK_LIVE, params))

    async def end(self, session_id: str, *, now: float) -> bool:
        """End the session; False when it had already ended."""
        async with self._writer.begin() as connection:
            result = await connection.execute(
                sessions.update()
                .where(sessions.c.id == session_id, sessions.c.status != SessionStatus.ENDED)
                .values(status=SessionStatus.ENDED.value, ended_at=now)
            )
        return result.rowcount == 1

    async def _load(self, where: sa.ColumnElement[bool]) -> list[Session]:
        async with self._engine.connect() as connection:
            rows = (
                await connection.execute(
                    sa.select(sessions).where(where).order_by(sessions.c.created_at.desc())
                )
            ).all()
            trainees = await _trainees_of(connection, [row.id for row in rows])
        return [_session(row._mapping, trainees.get(row.id, ())) for row in rows]


_MARK_LIVE = (
    sessions.update()
    .where(
        sessions.c.id == sa.bindparam("session_id"),
        sessions.c.status == SessionStatus.SCHEDULED,
    )
    .values(status=SessionStatus.LIVE.value, started_at=sa.bindparam("now"))
)

_ONE_SESSION = (
    sa.select(sessions, session_trainees.c.trainee_id)
    .select_from(
        sessions.outerjoin(session_trainees, session_trainees.c.session_id == sessions.c.id)
    )
    .where(sessions.c.id == sa.bindparam("id"))
    .order_by(session_trainees.c.trainee_id)
)


_NAMES = tuple(column.name for column in _ONE_SESSION.selected_columns)
_TRAINEE_AT = _NAMES.index("trainee_id")


def read_session(connection: sa.Connection, session_id: str) -> Session | None:
    """The session and its trainees, in one prepared statement (a read for ``Reads.run``)."""
    rows = rows_of(connection, _ONE_SESSION, {"id": session_id})
    if not rows:
        return None
    trainee_ids = tuple(r[_TRAINEE_AT] for r in rows if r[_TRAINEE_AT] is not None)
    return _session(dict(zip(_NAMES, rows[0], strict=True)), trainee_ids)


def _session(row: Mapping[Any, Any], trainee_ids: tuple[str, ...]) -> Session:
    return Session(
        id=row["id"],
        title=row["title"],
        mentor_id=row["mentor_id"],
        trainee_ids=trainee_ids,
        status=SessionStatus(row["status"]),
        media_mode=row["media_mode"],
        scheduled_for=row["scheduled_for"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        ended_at=row["ended_at"],
        # SQLite's driver gives 0 or 1 where SQLAlchemy gave a bool (reads.rows_of).
        observers_hidden=bool(row["observers_hidden"]),
    )


async def _trainees_of(
    connection: AsyncConnection, session_ids: list[str]
) -> dict[str, tuple[str, ...]]:
    if not session_ids:
        return {}
    rows = (
        await connection.execute(
            sa.select(session_trainees.c.session_id, session_trainees.c.trainee_id)
            .where(session_trainees.c.session_id.in_(session_ids))
            .order_by(session_trainees.c.trainee_id)
        )
    ).all()
    found: dict[str, list[str]] = {}
    for session_id, trainee_id in rows:
        found.setdefault(session_id, []).append(trainee_id)
    return {k: tuple(v) for k, v in found.items()}
