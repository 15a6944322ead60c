"""Who is asking: the principal the edges establish (cookie or ticket) and the policy judges."""

from __future__ import annotations

from dataclasses import dataclass

from server.infra.roles import Role, User
from server.infra.storage import LoginSession

__all__ = ["Principal"]


@dataclass(frozen=True)
class Principal:
    """Who is asking, with the facts the policy needs about them. A guest who redeemed an
    invite has no account (``user`` is None), is bound to one session (``scope_session_id``) and
    sees it only once a mentor admitted them (``admitted``). ``follows``: the trainees a
    supervisor is assigned to."""

    id: str
    name: str
    role: Role
    user: User | None
    session: LoginSession
    scope_session_id: str | None = None
    admitted: bool = False
    follows: frozenset[str] = frozenset()

    @property
    def is_guest(self) -> bool:
        return self.scope_session_id is not None

    def has_role(self, *roles: Role) -> bool:
        return self.role in roles
