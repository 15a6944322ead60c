"""Accounts and supervisor↔trainee assignments."""

from __future__ import annotations

import time
import uuid

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from server.infra.roles import Role, User, UserId
from server.infra.storage.engine import for_writing
from server.infra.storage.schema import supervisor_assignments, users

__all__ = ["DuplicateEmail", "UserStore"]


class DuplicateEmail(Exception):
    """An account with that e-mail address already exists."""


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _user(mapping: sa.RowMapping) -> User:
    return User(
        id=UserId(str(mapping["id"])),
        email=str(mapping["email"]),
        name=str(mapping["name"]),
        role=Role(str(mapping["role"])),
        disabled=bool(mapping["disabled"]),
        created_at=float(mapping["created_at"]),
    )


_USER_COLUMNS = (
    users.c.id,
    users.c.email,
    users.c.name,
    users.c.role,
    users.c.disabled,
    users.c.created_at,
)


class UserStore:
    def __init__(self, engine: AsyncEngine) -> None:
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
                await connection.execute(sa.select(*_USER_COLUMNS).where(users.c.id == user_id))
            ).first()
        return None if row is None else _user(row._mapping)

    async def credentials(self, email: str) -> tuple[User, str] | None:
        """The account and its password hash, for signing in."""
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    sa.select(*_USER_COLUMNS, users.c.password_hash).where(
                        users.c.email == normalize_email(email)
                    )
                )
            ).first()
        if row is None:
            return None
        return _user(row._mapping), str(row._mapping["password_hash"])

    async def all(self, role: Role | None = None) -> list[User]:
        query = sa.select(*_USER_COLUMNS).order_by(users.c.created_at, users.c.id)
        if role is not None:
            query = query.where(users.c.role == role.value)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_user(row._mapping) for row in rows]

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
        return result.rowcount == 1

    async def trainees_of(self, supervisor_id: str) -> list[User]:
        query = (
            sa.select(*_USER_COLUMNS)
            .join(supervisor_assignments, supervisor_assignments.c.trainee_id == users.c.id)
            .where(supervisor_assignments.c.supervisor_id == supervisor_id)
            .order_by(users.c.name, users.c.id)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_user(row._mapping) for row in rows]

    async def supervisors_of(self, trainee_id: str) -> list[User]:
        query = (
            sa.select(*_USER_COLUMNS)
            .join(supervisor_assignments, supervisor_assignments.c.supervisor_id == users.c.id)
            .where(supervisor_assignments.c.trainee_id == trainee_id)
            .order_by(users.c.name, users.c.id)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [_user(row._mapping) for row in rows]
