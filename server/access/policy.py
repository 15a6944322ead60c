"""Who may see a session and who may enter its room (DESIGN.md §5: checked on every route and
every socket). Pure: the caller supplies what it knows about the principal."""

from __future__ import annotations

from collections.abc import Collection
from enum import Enum

from server.access.principal import Principal
from server.infra.roles import Role
from server.infra.storage import Session

__all__ = ["RoomEntry", "can_view", "room_entry"]


class RoomEntry(Enum):
    REFUSED = "refused"
    LOBBY = "lobby"
    DIRECT = "direct"


def can_view(principal: Principal, session: Session, followed_trainees: Collection[str]) -> bool:
    """``followed_trainees``: the trainees a supervisor is assigned to (empty for others)."""
    if principal.is_guest:
        return principal.scope_session_id == session.id
    if principal.role is Role.ADMIN:
        return True
    if principal.role is Role.MENTOR:
        return session.mentor_id == principal.id
    if principal.role is Role.TRAINEE:
        return principal.id in session.trainee_ids
    return any(t in followed_trainees for t in session.trainee_ids)


def room_entry(
    principal: Principal, session: Session, followed_trainees: Collection[str]
) -> RoomEntry:
    """How a principal enters the live room: guests wait in the lobby until a mentor admits
    them; the owning mentor, listed trainees with accounts and assigned supervisors go straight
    in; anyone else (admins included) is refused."""
    if principal.is_guest:
        return RoomEntry.LOBBY if principal.scope_session_id == session.id else RoomEntry.REFUSED
    if principal.role is Role.ADMIN:
        return RoomEntry.REFUSED
    if can_view(principal, session, followed_trainees):
        return RoomEntry.DIRECT
    return RoomEntry.REFUSED
