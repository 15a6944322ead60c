"""Invite links: bound to one session and one invitee, expiring, revocable, limited in uses."""

from __future__ import annotations

import secrets
import time
import uuid
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from server.infra.storage.engine import for_writing
from server.infra.storage.login_sessions import hash_token
from server.infra.storage.schema import invites

__all__ = ["DENIED", "WITHDRAWN", "Invite", "InviteProblem", "InviteStore"]

# Why an invite was withdrawn (``invites.revoked_reason``).
WITHDRAWN = "withdrawn"
DENIED = "denied"


class InviteProblem(StrEnum):
    """Why a link cannot be used (never "which part of the token was wrong")."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"
    DENIED = "denied"  # withdrawn because someone who used it was denied in the lobby
    USED_UP = "used-up"


@dataclass(frozen=True)
class Invite:
    id: str
    session_id: str
    trainee_id: str | None
    name: str | None
    email: str | None
    created_by: str
    created_at: float
    expires_at: float
    max_uses: int
    uses: int
    revoked_at: float | None
    revoked_reason: str | None = None  # "withdrawn" or "denied"

    def problem(self, now: float) -> InviteProblem | None:
        if self.revoked_at is not None:
            if self.revoked_reason == DENIED:
                return InviteProblem.DENIED
            return InviteProblem.REVOKED
        if now >= self.expires_at:
            return InviteProblem.EXPIRED
        if self.uses >= self.max_uses:
            return InviteProblem.USED_UP
        return None


def _invite(m: sa.RowMapping) -> Invite:
    return Invite(
        id=m["id"],
        session_id=m["session_id"],
        trainee_id=m["trainee_id"],
        name=m["name"],
        email=m["email"],
        created_by=m["created_by"],
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        max_uses=m["max_uses"],
        uses=m["uses"],
        revoked_at=m["revoked_at"],
        revoked_reason=m["revoked_reason"],
    )


class InviteStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._writer = for_writing(engine)

    async def create(
        self,
        *,
        session_id: str,
        created_by: str,
        trainee_id: str | None,
        name: str | None,
        email: str | None,
        expires_in_s: float,
        max_uses: int,
    ) -> tuple[str, Invite]:
        """A new invite and its token (192 random bits; only the hash is stored)."""
        token = secrets.token_urlsafe(24)
        now = time.time()
        invite = Invite(
            id=uuid.uuid4().hex,
            session_id=session_id,
            trainee_id=trainee_id,
            name=name,
            email=email,
            created_by=created_by,
            created_at=now,
            expires_at=now + expires_in_s,
            max_uses=max_uses,
            uses=0,
            revoked_at=None,
        )
        async with self._writer.begin() as connection:
            await connection.execute(
                invites.insert().values(token_hash=hash_token(token), **vars(invite))
            )
        return token, invite

    async def find(self, token: str) -> Invite | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(invites).where(invites.c.token_hash == hash_token(token))
                )
            ).first()
        return None if row is None else _invite(row._mapping)

    async def use(self, token: str, *, now: float) -> Invite | InviteProblem:
        """Count one redemption, atomically; or say why the link cannot be used."""
        token_hash = hash_token(token)
        async with self._writer.begin() as connection:
            result = await connection.execute(
                invites.update()
                .where(
                    invites.c.token_hash == token_hash,
                    invites.c.revoked_at.is_(None),
                    invites.c.expires_at > now,
                    invites.c.uses < invites.c.max_uses,
                )
                .values(uses=invites.c.uses + 1)
            )
            row = (
                await connection.execute(
                    sa.select(invites).where(invites.c.token_hash == token_hash)
                )
            ).first()
        if row is None:
            return InviteProblem.UNKNOWN
        invite = _invite(row._mapping)
        if result.rowcount != 1:
            return invite.problem(now) or InviteProblem.USED_UP
        return invite

    async def for_session(self, session_id: str) -> list[Invite]:
        async with self._engine.connect() as connection:
            rows = (
                await connection.execute(
                    sa.select(invites)
                    .where(invites.c.session_id == session_id)
                    .order_by(invites.c.created_at)
                )
            ).all()
        return [_invite(row._mapping) for row in rows]

    async def revoke(self, session_id: str, invite_id: str, *, now: float) -> bool:
        async with self._writer.begin() as connection:
            result = await connection.execute(
                invites.update()
                .where(
                    invites.c.id == invite_id,
                    invites.c.session_id == session_id,
                    invites.c.revoked_at.is_(None),
                )
                .values(revoked_at=now, revoked_reason=WITHDRAWN)
            )
        return result.rowcount == 1

    async def revoke_for_trainee(
        self, session_id: str, trainee_id: str, *, now: float
    ) -> list[str]:
        """Withdraw the session's open invites made for one trainee's account (the account was
        taken off the session); the ids of those withdrawn."""
        async with self._writer.begin() as connection:
            rows = await connection.execute(
                invites.update()
                .where(
                    invites.c.session_id == session_id,
                    invites.c.trainee_id == trainee_id,
                    invites.c.revoked_at.is_(None),
                )
                .values(revoked_at=now, revoked_reason=WITHDRAWN)
                .returning(invites.c.id)
            )
            return [str(row[0]) for row in rows]
