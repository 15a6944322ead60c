"""Request and response bodies shared by several route modules."""

from __future__ import annotations

from typing import Annotated

import msgspec

from server.roles import Role, User

__all__ = ["Email", "UserOut", "user_out"]

Email = Annotated[
    str,
    msgspec.Meta(
        min_length=3,
        max_length=320,
        pattern=r"^[^@\s]+@[^@\s]+$",
        description="An e-mail address (compared case-insensitively).",
    ),
]


class UserOut(msgspec.Struct, frozen=True):
    id: str
    email: str
    name: str
    role: Role
    disabled: bool


def user_out(user: User) -> UserOut:
    return UserOut(user.id, user.email, user.name, user.role, user.disabled)
