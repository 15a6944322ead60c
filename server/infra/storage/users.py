"""Accounts and supervisor↔trainee assignments."""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.infra.roles import Role, User, UserId
from server.infra.storage.engine import for_writing
from server.infra.storage.login_sessions import NOBODY_LISTENS, SignInListener, hash_token
from server.infra.storage.schema import password_resets, supervisor_assignments, users

__all__ = ["DuplicateEmail", "UserStore"]


class DuplicateEmail(Exception):
    """An account with that e-mail address already exists."""


def normalize_email(email: str) -> str:
    return email.strip().lower()


def user_from(mapping: Mapping[Any, Any]) -> User:
    return User(
        id=UserId(str(mapping["id"])),
        email=str(mapping["email"]),
        name=str(mapping["name"]),
        role=Role(str(mapping["role"])),
        disabled=bool(mapping["disabled"]),
        created_at=float(mapping["created_at"]),
    )


def _contains(word: str) -> str:
    """A LIKE pattern matching ``word`` anywhere, its wildcards taken literally."""
    escaped = word.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


USER_COLUMNS = (
    users.c.id,
    users.c.email,
    users.c.name,
    users.c.role,
    users.c.disabled,
    users.c.created_at,
)


class UserStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self.listener: SignInListener = NOBODY_LISTENS
        self._engine = engine
        self._writer = for_writing(engine)

    async def create(self, *, email: str, name: str, role: Role, password_hash: str) -> User:
        now = time.time()
        user_id = uuid.uuid4().hex
        try:
            async with self._writer.begin() as connection:
                await connection.execute(
                    users.insert().values(
                        id=user_id,
                        email=normalize_email(email),
                        name=name.strip(),
                        role=role.value,
                        password_hash=password_hash,
                        disabled=False,
                        created_at=now,
                        updated_at=now,
                    )
                )
        except IntegrityError:
            raise DuplicateEmail(normalize_email(email)) from None
        return User(UserId(user_id), normalize_email(email), name.strip(), role, False, now)

    async def get(self, user_id: str) -> User | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(sa.select(*USER_COLUMNS).where(users.c.id == user_id))
            ).first()
        return None if row is None else user_from(row._mapping)

    async def credentials(self, email: str) -> tuple[User, str] | None:
        """The account and its password hash, for signing in."""
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(*USER_COLUMNS, users.c.password_hash).where(
                        users.c.email == normalize_email(email)
                    )
                )
            ).first()
        if row is None:
            return None
        return user_from(row._mapping), str(row._mapping["password_hash"])

    async def all(self, role: Role | None = None) -> list[User]:
        query = sa.select(*USER_COLUMNS).order_by(users.c.created_at, users.c.id)
        if role is not None:
            query = query.where(users.c.role == role.value)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [user_from(row._mapping) for row in rows]

    async def search(self, words: str, *, role: Role, limit: int) -> list[User]:
        """Enabled accounts of ``role`` whose name contains each of ``words`` (whitespace-
        separated, case-insensitive), by name; at most ``limit``."""
        query = sa.select(*USER_COLUMNS).where(
            users.c.role == role.value, users.c.disabled.is_(False)
        )
        for word in words.split()[:5]:
            query = query.where(sa.func.lower(users.c.name).like(_contains(word), escape="\\"))
        query = query.order_by(users.c.name, users.c.id).limit(limit)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [user_from(row._mapping) for row in rows]

    async def set_disabled(self, user_id: str, disabled: bool) -> bool:
        async with self._writer.begin() as connection:
            result = await connection.execute(
                users.update()
                .where(users.c.id == user_id)
                .values(disabled=disabled, updated_at=time.time())
            )
        return result.rowcount == 1

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        async with self._writer.begin() as connection:
            await connection.execute(
                users.update()
                .where(users.c.id == user_id)
                .values(password_hash=password_hash, updated_at=time.time())
            )

    async def assign(self, supervisor_id: str, trainee_id: str) -> bool:
        """Record that a supervisor follows a trainee; False when it was already so."""
        try:
            async with self._writer.begin() as connection:
                await connection.execute(
                    supervisor_assignments.insert().values(
                        supervisor_id=supervisor_id, trainee_id=trainee_id, created_at=time.time()
                    )
                )
        except IntegrityError:
            return False
        return True

    async def unassign(self, supervisor_id: str, trainee_id: str) -> bool:
        async with self._writer.begin() as connection:
            result = await connection.execute(
                supervisor_assignments.delete().where(
                    supervisor_assignments.c.supervisor_id == supervisor_id,
                    supervisor_assignments.c.trainee_id == trainee_id,
                )
            )
        self.listener.forget_subject(supervisor_id)  # follows one trainee fewer
        return result.rowcount == 1

    async def trainees_of(self, supervisor_id: str) -> list[User]:
        query = (
            sa.select(*USER_COLUMNS)
            .join(supervisor_assignments, supervisor_assignments.c.trainee_id == users.c.id)
            .where(supervisor_assignments.c.supervisor_id == supervisor_id)
            .order_by(users.c.name, users.c.id)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [user_from(row._mapping) for row in rows]

    async def supervisors_of(self, trainee_id: str) -> list[User]:
        query = (
            sa.select(*USER_COLUMNS)
            .join(supervisor_assignments, supervisor_assignments.c.supervisor_id == users.c.id)
            .where(supervisor_assignments.c.trainee_id == trainee_id)
            .order_by(users.c.name, users.c.id)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [user_from(row._mapping) for row in rows]

    async def assignments(self) -> list[tuple[User, User]]:
        """Every supervisor↔trainee pair, as (supervisor, trainee), by supervisor then trainee."""
        supervisor, trainee = users.alias("supervisor"), users.alias("trainee")
        columns = [c.name for c in USER_COLUMNS]
        query = (
            sa.select(
                *(supervisor.c[name].label(f"s_{name}") for name in columns),
                *(trainee.c[name].label(f"t_{name}") for name in columns),
            )
            .select_from(supervisor_assignments)
            .join(supervisor, supervisor.c.id == supervisor_assignments.c.supervisor_id)
            .join(trainee, trainee.c.id == supervisor_assignments.c.trainee_id)
            .order_by(supervisor.c.name, supervisor.c.id, trainee.c.name, trainee.c.id)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [
            (
                user_from({name: row._mapping[f"s_{name}"] for name in columns}),
                user_from({name: row._mapping[f"t_{name}"] for name in columns}),
            )
            for row in rows
        ]

    async def open_reset(
        self, user_id: str, *, created_by: str | None, now: float, ttl_s: float
    ) -> str:
        """A one-time password reset link's token for ``user_id`` (only its hash is stored).
        Any earlier unused link of the account stops working: the newest one handed out is
        the only one that counts."""
        token = secrets.token_urlsafe(32)
        async with self._writer.begin() as connection:
            await connection.execute(
                password_resets.update()
                .where(password_resets.c.user_id == user_id, password_resets.c.used_at.is_(None))
                .values(used_at=now)
            )
            await connection.execute(
                password_resets.insert().values(
                    token_hash=hash_token(token),
                    user_id=user_id,
                    created_by=created_by,
                    created_at=now,
                    expires_at=now + ttl_s,
                )
            )
        return token

    async def reset_holder(self, token: str, *, now: float) -> tuple[User, float] | None:
        """The account a live reset link is for, and when the link expires."""
        query = (
            sa.select(*USER_COLUMNS, password_resets.c.expires_at)
            .join(users, users.c.id == password_resets.c.user_id)
            .where(
                password_resets.c.token_hash == hash_token(token),
                password_resets.c.used_at.is_(None),
                password_resets.c.expires_at > now,
            )
        )
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).first()
        return None if row is None else (user_from(row._mapping), float(row._mapping["expires_at"]))

    async def spend_reset(self, token: str, password_hash: str, *, now: float) -> str | None:
        """Set the password through a live reset link and spend the link, in one transaction
        (two uses racing: one wins). The account's id, or ``None`` if the link is not live."""
        async with self._writer.begin() as connection:
            row = (
                await connection.execute(
                    password_resets.update()
                    .where(
                        password_resets.c.token_hash == hash_token(token),
                        password_resets.c.used_at.is_(None),
                        password_resets.c.expires_at > now,
                    )
                    .values(used_at=now)
                    .returning(password_resets.c.user_id)
                )
            ).first()
            if row is None:
                return None
            user_id = str(row[0])
            await connection.execute(
                users.update()
                .where(users.c.id == user_id)
                .values(password_hash=password_hash, updated_at=now)
            )
        return user_id
