"""The record's "Who was there" (GET /api/sessions/{id}/record, participants): a guest who knocked
was there from the moment a mentor admitted them; a guest turned away never was."""

from __future__ import annotations

from typing import Any

from signaling import Deny, Join, Lobby, Waiting, Welcome
from tests.rooms.client import admit_guest, signaling
from tests.support import Scene, wait_for


async def _participants(scene: Scene) -> list[dict[str, Any]]:
    record = await scene.mentor_http.get(f"/api/sessions/{scene.session_id}/record")
    assert record.status_code == 200, record.text
    people: list[dict[str, Any]] = record.json()["participants"]
    return people


async def _knock_and_deny(scene: Scene) -> None:
    server, sid = scene.server, scene.session_id
    async with (
        signaling(server, sid, scene.mentor_http) as mentor,
        signaling(server, sid, scene.guest_http) as guest,
    ):
        await mentor.send(Join())
        await mentor.expect(Welcome)
        await guest.send(Join())
        await guest.expect(Waiting)
        lobby = await mentor.expect(Lobby)
        while not lobby.waiting:
            lobby = await mentor.expect(Lobby)
        await mentor.send(Deny(peer=lobby.waiting[0].id))
        assert await guest.closed() == 4403


async def test_a_guest_turned_away_was_never_there(scene: Scene) -> None:
    await _knock_and_deny(scene)

    async def recorded() -> bool:
        return len(await _participants(scene)) >= 1

    await wait_for(recorded, timeout=5)
    await scene.server.services.records.flush()
    assert [p["name"] for p in await _participants(scene)] == ["Test Mentor"]


async def test_an_admitted_guest_was_there_from_the_admission(scene: Scene) -> None:
    server, sid = scene.server, scene.session_id
    async with (
        signaling(server, sid, scene.mentor_http) as mentor,
        signaling(server, sid, scene.guest_http) as guest,
    ):
        await mentor.send(Join())
        await mentor.expect(Welcome)
        await admit_guest(mentor, guest)
    await server.services.records.flush()
    people = {p["name"]: p for p in await _participants(scene)}
    assert set(people) == {"Test Mentor", "Sam Student"}
    audit = await server.services.store.audit.about(sid, actions=("room.admit",))
    assert people["Sam Student"]["joined_at"] == audit[-1].at
