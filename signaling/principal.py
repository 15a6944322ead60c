"""Who is joining: the authenticated identity the shell hands to the room."""

from __future__ import annotations

from dataclasses import dataclass

from signaling.ids import Role


@dataclass(frozen=True, slots=True)
class Principal:
    """The identity behind a connection, as established by the shell (cookie or ticket).

    `subject` is stable for one person (a user id, or the guest principal's id) and binds a resume
    token to whoever received it: a token presented by another subject is ignored. `needs_admission`
    sends the member to the lobby first (DESIGN.md §2: guests wait, mentors and assigned supervisors
    are admitted directly); it is independent of `role`. `guest`: signed in through an invite link
    rather than to an account (an admitted guest no longer needs admission, but is still a guest).
    `observer`: receives the session's media and publishes none (the access policy decides who;
    DESIGN.md §3 silent observers); only a routed room can hold one to that.
    """

    subject: str
    role: Role
    display_name: str
    needs_admission: bool = False
    guest: bool = False
    observer: bool = False
