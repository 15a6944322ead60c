"""Who a cookie (or a ticket's login) is: the sign-in, its account and, for a supervisor, the
trainees followed; with a socket's session beside them. One step each (``reads.py``): every
signed-in request makes the first read and every socket handshake the second, so a burst of
100 joins must not cost 100 times a handful of round trips (issue 8).

What makes a sign-in live (revocation, timeouts) is ``LoginSessionStore.live``'s, whichever read
found the row; whether a disabled account may act is the caller's (the HTTP sign-in refuses it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from server.infra.roles import Role, User
from server.infra.storage.login_sessions import LoginSession, LoginSessionStore
from server.infra.storage.reads import Reads
from server.infra.storage.schema import login_sessions, supervisor_assignments, users
from server.infra.storage.sessions import Session, read_session
from server.infra.storage.users import USER_COLUMNS, user_from

__all__ = ["SignIn", "SignIns"]


@dataclass(frozen=True)
class SignIn:
    login: LoginSession
    account: User | None
    """The signed-in account (``None`` for a guest, or an account no longer there)."""
    follows: frozenset[str] = frozenset()
    """A supervisor's assigned trainees."""


_ACCOUNT = "account_"

# The sign-in and its account in one statement, built once (building it cost as much as running
# it). The account's columns are labelled apart from the sign-in's.
_SIGN_IN = (
    sa.select(login_sessions, *(c.label(f"{_ACCOUNT}{c.name}") for c in USER_COLUMNS))
    .select_from(login_sessions.outerjoin(users, users.c.id == login_sessions.c.user_id))
    .where(login_sessions.c.token_hash == sa.bindparam("token_hash"))
)

_FOLLOWS = (
    sa.select(supervisor_assignments.c.trainee_id)
    .join(users, users.c.id == supervisor_assignments.c.trainee_id)
    .where(supervisor_assignments.c.supervisor_id == sa.bindparam("supervisor"))
)


@dataclass(frozen=True)
class _Found:
    row: dict[str, Any] | None
    account: User | None
    follows: frozenset[str]
    session: Session | None


def _read(connection: sa.Connection, token_hash: str | None, session_id: str | None) -> _Found:
    row = None
    if token_hash is not None:
        found = connection.execute(_SIGN_IN, {"token_hash": token_hash}).first()
        row = None if found is None else dict(found._mapping)
    account = None
    follows: frozenset[str] = frozenset()
    if row is not None and row[f"{_ACCOUNT}id"] is not None:
        account = user_from({c.name: row[f"{_ACCOUNT}{c.name}"] for c in USER_COLUMNS})
        if account.role is Role.SUPERVISOR and not account.disabled:
            rows = connection.execute(_FOLLOWS, {"supervisor": account.id}).all()
            follows = frozenset(str(r.trainee_id) for r in rows)
    session = None if session_id is None else read_session(connection, session_id)
    return _Found(row, account, follows, session)


class SignIns:
    def __init__(self, reads: Reads, logins: LoginSessionStore) -> None:
        self._reads = reads
        self._logins = logins

    async def resolve(self, token_hash: str, *, now: float) -> SignIn | None:
        """The live sign-in with this token hash, or ``None`` (unknown, revoked, timed out)."""
        noted = self._logins.use_noted(token_hash)
        found = await self._reads.run(lambda connection: _read(connection, token_hash, None))
        return await self._live(token_hash, found, now, noted)

    async def resolve_with_session(
        self, token_hash: str, session_id: str, *, now: float
    ) -> tuple[SignIn | None, Session | None]:
        """A socket's handshake: the live sign-in and the session the socket is for, in one
        step."""
        noted = self._logins.use_noted(token_hash)
        found = await self._reads.run(lambda connection: _read(connection, token_hash, session_id))
        return await self._live(token_hash, found, now, noted), found.session

    async def warm(self) -> None:
        """Read a sign-in and a session that are not there: the first burst of handshakes then
        finds the reading connection open and these statements compiled (~10 ms at start-up
        instead of inside the burst's first reads: issue 8). Writes nothing."""
        await self._reads.run(lambda connection: _read(connection, "", ""))

    async def _live(
        self, token_hash: str, found: _Found, now: float, noted: float
    ) -> SignIn | None:
        if found.row is None:
            return None
        login = await self._logins.live(token_hash, found.row, now=now, noted=noted)
        return None if login is None else SignIn(login, found.account, found.follows)
