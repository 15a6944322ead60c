"""Who is who: the roles of DESIGN.md §2 and the account record the rest of the app sees."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NewType

__all__ = ["Role", "User", "UserId"]

UserId = NewType("UserId", str)


class Role(StrEnum):
    ADMIN = "admin"
    MENTOR = "mentor"
    TRAINEE = "trainee"
    SUPERVISOR = "supervisor"


@dataclass(frozen=True)
class User:
    id: UserId
    email: str
    name: str
    role: Role
    disabled: bool
    created_at: float
