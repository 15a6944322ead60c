"""Account administration shared by the admin API and the CLI, each step audited."""

from __future__ import annotations

import time

from server.infra.passwords import Passwords, password_problem
from server.infra.roles import Role, User
from server.infra.storage import DuplicateEmail, Store

__all__ = ["AccountError", "Accounts"]


class AccountError(Exception):
    """A request an operator can correct; ``code`` is machine-readable, the text says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Accounts:
    def __init__(self, store: Store, passwords: Passwords) -> None:
        self._store = store
        self._passwords = passwords

    async def create_user(
        self, *, email: str, name: str, role: Role, password: str, actor_id: str | None
    ) -> User:
        problem = password_problem(password)
        if problem:
            raise AccountError("weak-password", problem)
        if not name.strip():
            raise AccountError("invalid", "name must not be empty")

        try:
            user = await self._store.users.create(
                email=email,
                name=name,
                role=role,
                password_hash=await self._passwords.hash(password),
            )
        except DuplicateEmail:
            raise AccountError("duplicate-email", f"an account for {email} exists") from None
        await self._store.audit.append(
            "user.created", actor_id=actor_id, target=user.id, detail={"role": role.value}
        )
        return user

    async def set_disabled(self, user_id: str, disabled: bool, *, actor_id: str | None) -> User:
        if not await self._store.users.set_disabled(user_id, disabled):
            raise AccountError("not-found", f"no user {user_id}")
        if disabled:
            # Revocation is immediate: every open session of this user stops working now.
            await self._store.login_sessions.revoke_all(user_id, now=time.time())
        await self._store.audit.append(
            "user.disabled" if disabled else "user.enabled", actor_id=actor_id, target=user_id
        )
        user = await self._store.users.get(user_id)
        assert user is not None
        return user

    async def assign(self, supervisor_id: str, trainee_id: str, *, actor_id: str | None) -> None:
        supervisor = await self._store.users.get(supervisor_id)
        trainee = await self._store.users.get(trainee_id)
        if supervisor is None or supervisor.role is not Role.SUPERVISOR:
            raise AccountError("invalid", f"{supervisor_id} is not a supervisor")
        if trainee is None or trainee.role is not Role.TRAINEE:
            raise AccountError("invalid", f"{trainee_id} is not a trainee")
        if await self._store.users.assign(supervisor_id, trainee_id):
            await self._store.audit.append(
                "assignment.created",
                actor_id=actor_id,
                target=trainee_id,
                detail={"supervisor_id": supervisor_id},
            )

    async def unassign(self, supervisor_id: str, trainee_id: str, *, actor_id: str | None) -> None:
        if not await self._store.users.unassign(supervisor_id, trainee_id):
            raise AccountError("not-found", "no such assignment")
        await self._store.audit.append(
            "assignment.removed",
            actor_id=actor_id,
            target=trainee_id,
            detail={"supervisor_id": supervisor_id},
        )
