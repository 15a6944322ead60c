"""Who is asking: the principal the edges establish (cookie or ticket) and the policy judges."""

from __future__ import annotations

from dataclasses import dataclass

from server.infra.roles import Role, User
from server.infra.storage import LoginSession

__all__ = ["Principal"]


@dataclass(frozen=True)
class Principal:
    """Who is asking. A guest who redeemed an invite is a trainee bound to one session
    (``scope_session_id``); when the invite named a trainee's account, ``user`` is that account,
    so what the guest does accrues to the trainee's record."""

    id: str
    name: str
    role: Role
    user: User | None
    session: LoginSession
    scope_session_id: str | None = None

    @property
    def is_guest(self) -> bool:
        return self.scope_session_id is not None

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles
