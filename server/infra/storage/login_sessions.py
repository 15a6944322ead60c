"""Server-side login sessions: revocable, with idle and absolute timeouts (DESIGN.md §5)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from server.infra.roles import UserId
from server.infra.storage.engine import for_writing
from server.infra.storage.schema import invites, login_sessions, users

__all__ = [
    "NOBODY_LISTENS",
    "Guest",
    "GuestScope",
    "LoginSession",
    "LoginSessionStore",
    "SignInListener",
    "hash_token",
]

# Writing last_seen_at on every request would turn each read into a write; a minute of slack on
# a 30-minute idle timeout is harmless.
_TOUCH_EVERY_S = 60.0


# Built once: every request and socket handshake not already cached resolves its sign-in, and
# building the statement cost as much as running it (issue 8, a burst of joins).
_BY_HASH = sa.select(login_sessions).where(
    login_sessions.c.token_hash == sa.bindparam("token_hash")
)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class GuestScope:
    """What an invite grants: one session, under a display name, perhaps as a named trainee."""

    session_id: str
    display_name: str
    invite_id: str
    trainee_id: str | None = None


@dataclass(frozen=True)
class LoginSession:
    token_hash: str
    user_id: UserId | None
    csrf_token: str
    created_at: float
    last_seen_at: float
    expires_at: float
    guest_id: str | None = None
    scope_session_id: str | None = None
    display_name: str | None = None
    invite_id: str | None = None
    admitted_at: float | None = None


@dataclass(frozen=True)
class Guest:
    """Someone a mentor admitted through an invite link (one redemption), as the mentor sees it."""

    id: str
    display_name: str
    invite_id: str | None
    admitted_at: float
    linked_user_id: str | None


class SignInListener(Protocol):
    """Told when sign-ins end or an account's rights shrink (the HTTP edge keeps principals for
    a moment and must forget them at once)."""

    def forget_logins(self, token_hashes: Iterable[str]) -> None: ...

    def forget_subject(self, subject_id: str) -> None: ...


class _NobodyListens:
    def forget_logins(self, token_hashes: Iterable[str]) -> None:
        return None

    def forget_subject(self, subject_id: str) -> None:
        return None


NOBODY_LISTENS: SignInListener = _NobodyListens()


class LoginSessionStore:
    def __init__(self, engine: AsyncEngine, *, idle_timeout_s: float, absolute_timeout_s: float):
        self.listener = NOBODY_LISTENS
        self._engine = engine
        self._writer = for_writing(engine)
        self._idle_timeout_s = idle_timeout_s
        self._absolute_timeout_s = absolute_timeout_s

    async def open(
        self, user_id: str, *, now: float, ip: str | None, user_agent: str | None
    ) -> tuple[str, LoginSession]:
        """Start an account's session; returns the cookie token (never stored) and the row."""
        return await self._open(UserId(user_id), None, now=now, ip=ip, user_agent=user_agent)

    async def open_guest(
        self, scope: GuestScope, *, now: float, ip: str | None, user_agent: str | None
    ) -> tuple[str, LoginSession]:
        """Start a guest's session, bound to the one session its invite was for."""
        # An invite grants presence, never an account: even a link made for a trainee's account
        # signs in a guest, and the trainee's own feedback needs the trainee's own sign-in.
        return await self._open(None, scope, now=now, ip=ip, user_agent=user_agent)

    async def _open(
        self,
        user_id: UserId | None,
        scope: GuestScope | None,
        *,
        now: float,
        ip: str | None,
        user_agent: str | None,
    ) -> tuple[str, LoginSession]:
        token = secrets.token_urlsafe(32)
        session = LoginSession(
            token_hash=hash_token(token),
            user_id=user_id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + self._absolute_timeout_s,
            guest_id=uuid.uuid4().hex if scope else None,
            scope_session_id=scope.session_id if scope else None,
            display_name=scope.display_name if scope else None,
            invite_id=scope.invite_id if scope else None,
        )
        async with self._writer.begin() as connection:
            await connection.execute(
                login_sessions.insert().values(
                    token_hash=session.token_hash,
                    user_id=session.user_id,
                    guest_id=session.guest_id,
                    scope_session_id=session.scope_session_id,
                    display_name=session.display_name,
                    invite_id=scope.invite_id if scope else None,
                    csrf_token=session.csrf_token,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=session.expires_at,
                    ip=ip,
                    user_agent=(user_agent or "")[:300] or None,
                )
            )
        return token, session

    async def resolve(self, token: str, *, now: float) -> LoginSession | None:
        """The live session for a cookie token, or ``None`` if unknown, revoked or timed out."""
        return await self.resolve_hash(hash_token(token), now=now)

    async def resolve_hash(self, token_hash: str, *, now: float) -> LoginSession | None:
        async with self._engine.connect() as connection:
            row = (await connection.execute(_BY_HASH, {"token_hash": token_hash})).first()
        if row is None:
            return None
        m = row._mapping
        if m["revoked_at"] is not None:
            return None
        if now >= m["expires_at"] or now - m["last_seen_at"] >= self._idle_timeout_s:
            return None
        last_seen_at = float(m["last_seen_at"])
        if now - last_seen_at >= _TOUCH_EVERY_S:
            last_seen_at = now
            async with self._writer.begin() as connection:
                await connection.execute(
                    login_sessions.update()
                    .where(login_sessions.c.token_hash == token_hash)
                    .values(last_seen_at=now)
                )
        return LoginSession(
            token_hash=token_hash,
            user_id=None if m["user_id"] is None else UserId(str(m["user_id"])),
            csrf_token=str(m["csrf_token"]),
            created_at=float(m["created_at"]),
            last_seen_at=last_seen_at,
            expires_at=float(m["expires_at"]),
            guest_id=m["guest_id"],
            scope_session_id=m["scope_session_id"],
            display_name=m["display_name"],
            invite_id=m["invite_id"],
            admitted_at=m["admitted_at"],
        )

    async def ended_among(self, token_hashes: Collection[str], *, now: float) -> set[str]:
        """Which of these login sessions may no longer be used: revoked, past their absolute
        limit, or of a disabled account. (Idleness does not end a socket: someone in an
        hour-long call makes no HTTP requests.)"""
        if not token_hashes:
            return set()
        query = (
            sa.select(login_sessions.c.token_hash)
            .select_from(login_sessions.outerjoin(users, users.c.id == login_sessions.c.user_id))
            .where(
                login_sessions.c.token_hash.in_(list(token_hashes)),
                sa.or_(
                    login_sessions.c.revoked_at.is_not(None),
                    login_sessions.c.expires_at <= now,
                    users.c.disabled.is_(True),
                ),
            )
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return {str(row[0]) for row in rows}

    async def guest_name(self, guest_id: str) -> str | None:
        """The name a guest (invite redeemer) goes by in the record: the trainee account a
        mentor linked them to, or else the display name they gave."""
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(login_sessions.c.display_name, users.c.name)
                    .select_from(
                        login_sessions.outerjoin(
                            users, users.c.id == login_sessions.c.linked_user_id
                        )
                    )
                    .where(login_sessions.c.guest_id == guest_id)
                    .limit(1)
                )
            ).first()
        return None if row is None else (row[1] or row[0])

    async def admitted_guests(self, session_id: str) -> list[Guest]:
        """The guests a mentor admitted into ``session_id``, oldest first."""
        async with self._engine.connect() as connection:
            rows = (
                await connection.execute(
                    sa.select(
                        login_sessions.c.guest_id,
                        login_sessions.c.display_name,
                        login_sessions.c.invite_id,
                        login_sessions.c.admitted_at,
                        login_sessions.c.linked_user_id,
                    )
                    .where(
                        login_sessions.c.scope_session_id == session_id,
                        login_sessions.c.admitted_at.is_not(None),
                    )
                    .order_by(login_sessions.c.admitted_at, login_sessions.c.guest_id)
                )
            ).all()
        return [
            Guest(
                id=str(r.guest_id),
                display_name=r.display_name or "Guest",
                invite_id=r.invite_id,
                admitted_at=float(r.admitted_at),
                linked_user_id=r.linked_user_id,
            )
            for r in rows
        ]

    async def link_guest(self, guest_id: str, session_id: str, user_id: str | None) -> bool:
        """Say which trainee account an admitted guest of ``session_id`` is (``None``: none);
        False when there is no such admitted guest."""
        async with self._writer.begin() as connection:
            result = await connection.execute(
                login_sessions.update()
                .where(
                    login_sessions.c.guest_id == guest_id,
                    login_sessions.c.scope_session_id == session_id,
                    login_sessions.c.admitted_at.is_not(None),
                )
                .values(linked_user_id=user_id)
            )
        return result.rowcount >= 1

    async def unlink_account(self, session_id: str, user_id: str) -> None:
        """The account was taken off the session: its guests there are no longer linked to it."""
        async with self._writer.begin() as connection:
            await connection.execute(
                login_sessions.update()
                .where(
                    login_sessions.c.scope_session_id == session_id,
                    login_sessions.c.linked_user_id == user_id,
                )
                .values(linked_user_id=None)
            )

    async def revoke_scoped(self, session_id: str, *, now: float) -> int:
        """The session is over: end the sign-ins of its guests still waiting in the lobby. An
        admitted guest keeps theirs, to read the record until it times out (idle or absolute
        limit) or the invite is withdrawn; the room itself refuses everyone once ended."""
        async with self._writer.begin() as connection:
            result = await connection.execute(
                login_sessions.update()
                .where(
                    login_sessions.c.scope_session_id == session_id,
                    login_sessions.c.admitted_at.is_(None),
                    login_sessions.c.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
        return int(result.rowcount)

    async def admit_guest(self, guest_id: str, session_id: str, *, now: float) -> None:
        """A mentor admitted this guest: stored, so it holds after reconnects and restarts."""
        async with self._writer.begin() as connection:
            await connection.execute(
                login_sessions.update()
                .where(
                    login_sessions.c.guest_id == guest_id,
                    login_sessions.c.scope_session_id == session_id,
                    login_sessions.c.admitted_at.is_(None),
                )
                .values(admitted_at=now)
            )

    async def revoke_guest(self, guest_id: str, session_id: str, *, now: float) -> set[str]:
        """A guest was denied in the lobby: end their sign-in and withdraw the invite they came
        through, so the same link cannot knock again (others already signed in through it keep
        their place). The hashes of the sign-ins ended."""
        async with self._writer.begin() as connection:
            rows = (
                await connection.execute(
                    login_sessions.update()
                    .where(
                        login_sessions.c.guest_id == guest_id,
                        login_sessions.c.scope_session_id == session_id,
                        login_sessions.c.revoked_at.is_(None),
                    )
                    .values(revoked_at=now)
                    .returning(login_sessions.c.token_hash, login_sessions.c.invite_id)
                )
            ).all()
            used = {str(row[1]) for row in rows if row[1] is not None}
            if used:
                await connection.execute(
                    invites.update()
                    .where(
                        invites.c.id.in_(used),
                        invites.c.session_id == session_id,
                        invites.c.revoked_at.is_(None),
                    )
                    .values(revoked_at=now, revoked_reason="denied")  # invites.DENIED
                )
        ended = {str(row[0]) for row in rows}
        self.listener.forget_logins(ended)
        return ended

    async def revoke_invite(self, invite_id: str, *, now: float) -> set[str]:
        """End every sign-in made through a withdrawn invite; the hashes of what was ended."""
        return await self._revoke_where(login_sessions.c.invite_id == invite_id, now=now)

    async def _revoke_where(self, condition: sa.ColumnElement[bool], *, now: float) -> set[str]:
        async with self._writer.begin() as connection:
            rows = await connection.execute(
                login_sessions.update()
                .where(condition, login_sessions.c.revoked_at.is_(None))
                .values(revoked_at=now)
                .returning(login_sessions.c.token_hash)
            )
            ended = {str(row[0]) for row in rows}
        self.listener.forget_logins(ended)
        return ended

    async def revoke(self, token_hash: str, *, now: float) -> None:
        async with self._writer.begin() as connection:
            await connection.execute(
                login_sessions.update()
                .where(
                    login_sessions.c.token_hash == token_hash, login_sessions.c.revoked_at.is_(None)
                )
                .values(revoked_at=now)
            )
        self.listener.forget_logins([token_hash])

    async def revoke_all(self, user_id: str, *, now: float) -> int:
        async with self._writer.begin() as connection:
            result = await connection.execute(
                login_sessions.update()
                .where(login_sessions.c.user_id == user_id, login_sessions.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        self.listener.forget_subject(user_id)
        return int(result.rowcount)
