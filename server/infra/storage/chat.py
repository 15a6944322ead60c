"""Chat: what was said in a session's room, kept with its record (issue 10), each line with its
audience (issue 11): who may read it. Reads name the audiences their reader may see."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from server.infra.storage.reads import Reads
from server.infra.storage.schema import chat_messages
from server.infra.storage.writes import Writes
from signaling.messages import ChatAudience

__all__ = ["ChatMessage", "ChatStore"]

_EVERYONE: tuple[ChatAudience, ...] = ("everyone",)
"""What a reader who sees no hidden observer may read: the default of every read."""


@dataclass(frozen=True)
class ChatMessage:
    id: str
    session_id: str
    peer: str
    """The sender's peer id in the room it was said in."""
    author_subject: str
    """The sender's user id, or guest id."""
    author_name: str
    """The sender's display name when it was sent."""
    text: str
    at: float
    """Unix time, seconds."""
    at_ms: int
    """Milliseconds into the call."""
    audience: ChatAudience = "everyone"
    """Who may read it: `mentors` if said by a hidden observer (the column's CHECK keeps it to
    these two)."""


class ChatStore:
    def __init__(self, engine: AsyncEngine, reads: Reads, writes: Writes) -> None:
        self._engine = engine
        self._reads = reads
        self._writes = writes

    async def add(self, message: ChatMessage) -> None:
        row = {
            "id": message.id,
            "session_id": message.session_id,
            "peer": message.peer,
            "author_subject": message.author_subject,
            "author_name": message.author_name,
            "text": message.text,
            "at": message.at,
            "at_ms": message.at_ms,
            "audience": message.audience,
        }
        await self._writes.run(lambda connection: connection.execute(_INSERT, row))

    async def recent(
        self, session_id: str, *, limit: int, audiences: Sequence[ChatAudience] = _EVERYONE
    ) -> list[ChatMessage]:
        """The session's last ``limit`` messages for ``audiences``, oldest first (each member's
        welcome reads them: one step, ``reads.py``)."""
        params = {"session_id": session_id, "limit": limit, "audiences": list(audiences)}
        rows = await self._reads.run(lambda connection: connection.execute(_RECENT, params).all())
        return [_message(row) for row in reversed(rows)]

    async def by_ids(
        self,
        session_id: str,
        ids: Collection[str],
        *,
        audiences: Sequence[ChatAudience] = _EVERYONE,
    ) -> dict[str, ChatMessage]:
        """The session's messages among ``ids`` (the record's timeline names them) for
        ``audiences``."""
        if not ids:
            return {}
        query = sa.select(chat_messages).where(
            chat_messages.c.session_id == session_id,
            chat_messages.c.id.in_(list(ids)),
            chat_messages.c.audience.in_(list(audiences)),
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return {row.id: _message(row) for row in rows}


_INSERT = chat_messages.insert()

_RECENT = (
    sa.select(chat_messages)
    .where(
        chat_messages.c.session_id == sa.bindparam("session_id"),
        chat_messages.c.audience.in_(sa.bindparam("audiences", expanding=True)),
    )
    .order_by(chat_messages.c.seq.desc())
    .limit(sa.bindparam("limit"))
)


def _message(row: sa.Row[tuple[object, ...]]) -> ChatMessage:
    return ChatMessage(
        id=row.id,
        session_id=row.session_id,
        peer=row.peer,
        author_subject=row.author_subject,
        author_name=row.author_name,
        text=row.text,
        at=row.at,
        at_ms=row.at_ms,
        audience=row.audience,
    )
