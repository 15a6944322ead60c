"""Drives a `Room` the way a shell would, with counters for ids and tokens and a settable clock,
plus helpers that read effects by connection. Pure: no event loop, no sockets."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import count
from typing import TypeVar

from signaling import (
    Audit,
    ClientMessage,
    Close,
    ConnectionId,
    Effect,
    ErrorMessage,
    IceServer,
    Join,
    MediaMode,
    Principal,
    Role,
    Room,
    Send,
    ServerMessage,
    SessionId,
    Welcome,
)

T = TypeVar("T")

START = 1000.0
START_WALL = 1_700_000_000.0


class Harness:
    def __init__(
        self,
        media_mode: MediaMode = MediaMode.DIRECT,
        *,
        auto_route: bool = False,
        observers_hidden: bool = False,
    ) -> None:
        ids = count(1)
        tokens = count(1)
        self.room = Room(
            SessionId("s1"),
            started_at=START,
            started_wall=START_WALL,
            new_id=lambda: f"p{next(ids)}",
            new_token=lambda: f"token-{next(tokens)}",
            media_mode=media_mode,
            auto_route=auto_route,
            observers_hidden=observers_hidden,
        )
        self.now = START

    def join(
        self,
        conn: str,
        role: Role = Role.TRAINEE,
        *,
        lobby: bool = False,
        subject: str | None = None,
        name: str | None = None,
        resume: str | None = None,
        ice: Sequence[IceServer] = (),
        observer: bool = False,
    ) -> list[Effect]:
        principal = Principal(
            # Connections of one person share a first letter: "t" and "t2" are both "user-t".
            subject=subject or f"user-{conn[0]}",
            role=role,
            display_name=f"Name {conn}",
            needs_admission=lobby,
            observer=observer,
        )
        message = Join(display_name=name, resume=resume)
        return self.room.join(ConnectionId(conn), principal, message, self.now, ice)

    def handle(self, conn: str, message: ClientMessage) -> list[Effect]:
        return self.room.handle(ConnectionId(conn), message, self.now)

    def drop(self, conn: str) -> None:
        assert self.room.disconnect(ConnectionId(conn), self.now) == []


def send(conn: str, message: ServerMessage) -> Send:
    return Send(ConnectionId(conn), message)


def to(effects: Iterable[Effect], conn: str) -> list[ServerMessage]:
    """Messages sent to one connection, in order."""
    return [e.message for e in effects if isinstance(e, Send) and e.to == conn]


def by_connection(effects: Iterable[Effect]) -> dict[str, list[ServerMessage]]:
    """Messages per connection, for the connections that got any."""
    sent: dict[str, list[ServerMessage]] = {}
    for effect in effects:
        if isinstance(effect, Send):
            sent.setdefault(effect.to, []).append(effect.message)
    return sent


def of_type(effects: Iterable[Effect], kind: type[T]) -> list[tuple[str, T]]:
    return [
        (e.to, e.message) for e in effects if isinstance(e, Send) and isinstance(e.message, kind)
    ]


def recipients(effects: Iterable[Effect], kind: type[object]) -> set[str]:
    return {conn for conn, _ in of_type(effects, kind)}


def only(effects: Iterable[Effect], kind: type[T]) -> list[T]:
    return [e for e in effects if isinstance(e, kind)]


def closes(effects: Iterable[Effect]) -> list[tuple[str, int]]:
    return [(e.to, e.code) for e in only(effects, Close)]


def welcome_of(effects: Iterable[Effect], conn: str) -> Welcome:
    [message] = [m for m in to(effects, conn) if isinstance(m, Welcome)]
    return message


def error_code(effects: Iterable[Effect], conn: str) -> str:
    [message] = [m for m in to(effects, conn) if isinstance(m, ErrorMessage)]
    return message.code


def audits(effects: Iterable[Effect]) -> list[str]:
    return [e.action for e in only(effects, Audit)]
