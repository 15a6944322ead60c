"""Single-use socket tickets (DESIGN.md §2): for clients that cannot send the session cookie."""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from server.infra.storage.engine import for_writing
from server.infra.storage.login_sessions import hash_token
from server.infra.storage.schema import socket_tickets

__all__ = ["TicketStore"]

TICKET_LIFETIME_S = 60.0

_REDEEM = (
    socket_tickets.update()
    .where(
        socket_tickets.c.token_hash == sa.bindparam("ticket"),
        socket_tickets.c.session_id == sa.bindparam("session"),
        socket_tickets.c.used_at.is_(None),
        socket_tickets.c.expires_at > sa.bindparam("at"),
    )
    .values(used_at=sa.bindparam("at"))
    .returning(socket_tickets.c.login_token_hash)
)


class TicketStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._writer = for_writing(engine)

    async def issue(
        self, *, login_token_hash: str, session_id: str, now: float
    ) -> tuple[str, float]:
        token = secrets.token_urlsafe(32)
        expires_at = now + TICKET_LIFETIME_S
        async with self._writer.begin() as connection:
            # Old tickets are useless; sweep them while we are writing anyway.
            await connection.execute(
                socket_tickets.delete().where(socket_tickets.c.expires_at < now - 3600)
            )
            await connection.execute(
                socket_tickets.insert().values(
                    token_hash=hash_token(token),
                    login_token_hash=login_token_hash,
                    session_id=session_id,
                    expires_at=expires_at,
                )
            )
        return token, expires_at

    async def redeem(self, token: str, *, session_id: str, now: float) -> str | None:
        """The login session behind a valid, unused ticket for ``session_id``; marks it used."""
        async with self._writer.begin() as connection:
            # One statement (UPDATE ... RETURNING, SQLite >= 3.35 and PostgreSQL): the write
            # lock is held for one round trip of a socket's handshake, not two.
            login_token_hash = (
                await connection.execute(
                    _REDEEM, {"ticket": hash_token(token), "session": session_id, "at": now}
                )
            ).scalar_one_or_none()
        return None if login_token_hash is None else str(login_token_hash)
