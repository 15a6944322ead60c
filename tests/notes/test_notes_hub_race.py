"""A notes join that waits for the room's lock while the last member leaves (and the room is
unloaded with them) lands in a live room, not in the unloaded one: its messages are handled
instead of failing with KeyError (found by bench/soak.py under load)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from server.access.principal import Principal
from server.infra.roles import Role
from server.live.rooms.connection import SocketConnection
from session_notes.protocol import SyncStep1
from tests.support import RunningServer, wait_for


class QuietSocket:
    """What the hub asks of a socket: an id, frames queued, a close."""

    def __init__(self, connection_id: str) -> None:
        self.id = connection_id
        self.frames: list[str | bytes] = []
        self.close_code: int | None = None

    def send(self, frame: str | bytes) -> None:
        self.frames.append(frame)

    def close(self, code: int, reason: str = "") -> None:
        self.close_code = code


async def test_a_join_waiting_while_the_room_unloads_lands_in_a_live_room(
    server: RunningServer,
) -> None:
    mentor = await server.user(Role.MENTOR)
    http = await server.signed_in(mentor)
    try:
        created = await http.post("/api/sessions", json={"title": "Handover"})
        assert created.status_code == 201, created.text
    finally:
        await http.aclose()
    session = await server.services.store.sessions.get(created.json()["id"])
    assert session is not None
    principal = Principal(mentor.id, mentor.name, Role.MENTOR, mentor, cast(Any, None))
    hub = server.services.notes
    first, second = QuietSocket("n.1"), QuietSocket("n.2")
    await hub.join(session, cast(SocketConnection, first), principal)
    room = hub._rooms[session.id]

    async with room.lock:  # an update of the first member is being committed
        joining = asyncio.create_task(hub.join(session, cast(SocketConnection, second), principal))

        async def waiting() -> bool:
            return bool(getattr(room.lock, "_waiters", None))

        await wait_for(waiting)
        # The last member leaves meanwhile: the room is unloaded (its final compaction then
        # waits for the lock too).
        leaving = asyncio.create_task(hub.leave(session.id, cast(SocketConnection, first)))

        async def unloaded() -> bool:
            return hub.members(session.id) == 0 and session.id not in hub._rooms

        await wait_for(unloaded)
    await asyncio.wait_for(asyncio.gather(joining, leaving), timeout=10)

    assert hub.members(session.id) == 1
    assert second.frames  # greeted with the state vector
    await hub.handle(session.id, cast(SocketConnection, second), SyncStep1(state_vector=b"\x00"))
