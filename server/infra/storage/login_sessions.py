"""Server-side login sessions: revocable, with idle and absolute timeouts (DESIGN.md §5)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from server.infra.roles import UserId
from server.infra.storage.engine import IN_CHUNK, for_writing
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

log = logging.getLogger("preceptor.auth")

# Writing last_seen_at on every request would turn each read into a write; a minute of slack on
# a 30-minute idle timeout is harmless.
_TOUCH_EVERY_S = 60.0

_RETRY_USES_S = 1.0

_TOUCH = (
    login_sessions.update()
    .where(
        login_sessions.c.token_hash == sa.bindparam("hash"),
        login_sessions.c.last_seen_at < sa.bindparam("at"),
    )
    .values(last_seen_at=sa.bindparam("at"))
)


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
        # Uses noted here whose last_seen_at is not written yet: login hash → when.
        self._uses: dict[str, float] = {}
        self._writing_uses: asyncio.Task[None] | None = None

    async def close(self) -> None:
        """Write the uses noted so far."""
        if self._writing_uses is not None:
            with contextlib.suppress(Exception):
                await self._writing_uses

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
        noted = self.use_noted(token_hash)
        async with self._engine.connect() as connection:
            row = (await connection.execute(_BY_HASH, {"token_hash": token_hash})).first()
        if row is None:
            return None
        return await self.live(token_hash, row._mapping, now=now, noted=noted)

    def use_noted(self, token_hash: str) -> float:
        """When this sign-in was last used, as noted here and not yet written (0 if nothing
        waits). Take it *before* reading the row: a use written (and forgotten here) while the
        read was under way would otherwise be missing from both, and the sign-in would look
        idle."""
        return self._uses.get(token_hash, 0.0)

    async def live(
        self, token_hash: str, row: Mapping[Any, Any], *, now: float, noted: float
    ) -> LoginSession | None:
        """The login session that ``row`` (its table's columns, read by its hash) stands for,
        or ``None`` if revoked or timed out; its use is written down once a minute. ``noted``
        is :meth:`use_noted`, taken before the row was read."""
        if row["revoked_at"] is not None:
            return None
        last_seen_at = max(float(row["last_seen_at"]), noted, self.use_noted(token_hash))
        if now >= row["expires_at"] or now - last_seen_at >= self._idle_timeout_s:
            return None
        if now - last_seen_at >= _TOUCH_EVERY_S:
            last_seen_at = now
            self._note_use(token_hash, now)
        return LoginSession(
            token_hash=token_hash,
            user_id=None if row["user_id"] is None else UserId(str(row["user_id"])),
            csrf_token=str(row["csrf_token"]),
            created_at=float(row["created_at"]),
            last_seen_at=last_seen_at,
            expires_at=float(row["expires_at"]),
            guest_id=row["guest_id"],
            scope_session_id=row["scope_session_id"],
            display_name=row["display_name"],
            invite_id=row["invite_id"],
            admitted_at=row["admitted_at"],
        )

    def _note_use(self, token_hash: str, now: float) -> None:
        self._uses[token_hash] = now
        if self._writing_uses is None:
            self._writing_uses = asyncio.get_running_loop().create_task(
                self._write_uses(), name="sign-in-uses"
            )

    async def _write_uses(self) -> None:
        """Write the uses noted, together, in the background: a burst of joins by people back
        after a minute must neither wait for a write each (and its fsync) nor queue 100 of them
        on the write lock (SQLite's busy handler gave up after 5 s, issue 8). A write that
        fails is dropped: the sign-in's next use notes it again."""
        try:
            while batch := dict(self._uses):
                try:
                    async with self._writer.begin() as connection:
                        await connection.execute(
                            _TOUCH, [{"hash": h, "at": at} for h, at in batch.items()]
                        )
                except Exception as exc:
                    log.warning(
                        "could not write sign-ins' use", extra={"error": type(exc).__name__}
                    )
                    failed = True
                else:
                    failed = False
                for token_hash, at in batch.items():
                    if self._uses.get(token_hash) == at:
                        del self._uses[token_hash]
                if failed:
                    await asyncio.sleep(_RETRY_USES_S)
        finally:
            self._writing_uses = None

    async def ended_among(self, token_hashes: Collection[str], *, now: float) -> set[str]:
        """Which of these login sessions may no longer be used: revoked, past their absolute
        limit, or of a disabled account. (Idleness does not end a socket: someone in an
        hour-long call makes no HTTP requests.)"""
        wanted = list(token_hashes)
        ended: set[str] = set()
        async with self._engine.connect() as connection:
            # In chunks: a node may hold more sockets than one statement can bind.
            for start in range(0, len(wanted), IN_CHUNK):
                query = (
                    sa.select(login_sessions.c.token_hash)
                    .select_from(
                        login_sessions.outerjoin(users, users.c.id == login_sessions.c.user_id)
                    )
                    .where(
                        login_sessions.c.token_hash.in_(wanted[start : start + IN_CHUNK]),
                        sa.or_(
                            login_sessions.c.revoked_at.is_not(None),
                            login_sessions.c.expires_at <= now,
                            users.c.disabled.is_(True),
                        ),
                    )
                )
                ended |= {str(row[0]) for row in (await connection.execute(query)).all()}
        return ended

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
