"""Recordings: the record of each sealed file (issue 12). The files are under the data dir; this
table knows their state, length, codecs and hash, never their key."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from server.infra.storage.engine import for_writing
from server.infra.storage.schema import recordings

__all__ = ["Recording", "RecordingStore"]


@dataclass(frozen=True)
class Recording:
    id: str
    session_id: str
    peer: str
    segment: int
    state: str  # recording | complete | incomplete | failed
    started_at: float
    ended_at: float | None
    duration_s: float | None
    size_bytes: int | None
    codecs: tuple[str, ...]
    container: str | None
    sha256: str | None
    media_started_at: float | None = None
    """Wall-clock time of the first keyframe, where the file's timeline starts (None until
    one arrived): marks, which count from the session's start, line up from it."""


def _row(row: Any) -> Recording:
    return Recording(
        id=row.id,
        session_id=row.session_id,
        peer=row.peer,
        segment=row.segment,
        state=row.state,
        started_at=row.started_at,
        ended_at=row.ended_at,
        duration_s=row.duration_s,
        size_bytes=row.size_bytes,
        codecs=tuple(row.codecs.split(",")) if row.codecs else (),
        container=row.container,
        sha256=row.sha256,
        media_started_at=row.media_started_at,
    )


class RecordingStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._writer = for_writing(engine)

    async def begin(
        self, *, recording_id: str, session_id: str, peer: str, segment: int, now: float
    ) -> None:
        async with self._writer.begin() as connection:
            await connection.execute(
                recordings.insert().values(
                    id=recording_id,
                    session_id=session_id,
                    peer=peer,
                    segment=segment,
                    state="recording",
                    started_at=now,
                )
            )

    async def finish(
        self,
        recording_id: str,
        *,
        state: str,
        duration_s: float,
        size_bytes: int,
        codecs: Sequence[str],
        container: str,
        sha256: str,
        now: float | None = None,
    ) -> None:
        async with self._writer.begin() as connection:
            await connection.execute(
                recordings.update()
                .where(recordings.c.id == recording_id)
                .values(
                    state=state,
                    ended_at=time.time() if now is None else now,
                    duration_s=duration_s,
                    size_bytes=size_bytes,
                    codecs=",".join(codecs),
                    container=container,
                    sha256=sha256,
                )
            )

    async def media_started(self, recording_id: str, *, at: float) -> None:
        """The recorder wrote its first keyframe at `at` (wall clock): the file's zero."""
        async with self._writer.begin() as connection:
            await connection.execute(
                recordings.update()
                .where(recordings.c.id == recording_id)
                .values(media_started_at=at)
            )

    async def fail(self, recording_id: str, *, now: float) -> None:
        """Nothing playable came of it (no keyframe ever arrived, or the file is unreadable)."""
        async with self._writer.begin() as connection:
            await connection.execute(
                recordings.update()
                .where(recordings.c.id == recording_id)
                .values(state="failed", ended_at=now)
            )

    async def get(self, recording_id: str) -> Recording | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(recordings.select().where(recordings.c.id == recording_id))
            ).first()
        return None if row is None else _row(row)

    async def for_session(self, session_id: str) -> list[Recording]:
        query = (
            recordings.select()
            .where(recordings.c.session_id == session_id)
            .order_by(recordings.c.started_at, recordings.c.peer)
        )
        async with self._engine.connect() as connection:
            return [_row(r) for r in await connection.execute(query)]

    async def unfinished(self) -> list[Recording]:
        """Rows still `recording`: at start-up, those a crash cut short."""
        query = (
            recordings.select()
            .where(recordings.c.state == "recording")
            .order_by(recordings.c.started_at)
        )
        async with self._engine.connect() as connection:
            return [_row(r) for r in await connection.execute(query)]

    async def started_before(self, cutoff: float) -> list[Recording]:
        query = (
            recordings.select()
            .where(recordings.c.started_at < cutoff, recordings.c.state != "recording")
            .order_by(recordings.c.started_at)
        )
        async with self._engine.connect() as connection:
            return [_row(r) for r in await connection.execute(query)]

    async def delete(self, recording_id: str) -> bool:
        async with self._writer.begin() as connection:
            result = await connection.execute(
                recordings.delete().where(recordings.c.id == recording_id)
            )
        return bool(result.rowcount)
