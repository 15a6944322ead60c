"""Invites grant presence, never more (issue 8, holes 1 and 3): a guest sees the record only once
a mentor admitted them in the room; the admission is stored; a denial or a withdrawn link ends
the guest's sign-in and closes its sockets."""

from __future__ import annotations

import httpx

from signaling import Deny, Join, Lobby, Waiting, Welcome
from tests.notes.pyclient import yclient
from tests.rooms.client import admit_guest, signaling
from tests.support import RunningServer, Scene, wait_for

RECORD_PARTS = ("record", "notes", "notes/history", "notes.md", "record.fhir.json")


async def _statuses(client: httpx.AsyncClient, session_id: str) -> set[int]:
    return {
        (await client.get(f"/api/sessions/{session_id}/{part}")).status_code
        for part in RECORD_PARTS
    }


async def test_a_guest_reads_nothing_until_admitted_and_the_admission_is_stored(
    scene: Scene,
) -> None:
    server, sid = scene.server, scene.session_id
    assert await _statuses(scene.guest_http, sid) == {403}
    async with yclient(server, sid, scene.guest_http, start=False) as notes:
        assert await notes.closed() == 4403
    async with (
        signaling(server, sid, scene.mentor_http) as mentor,
        signaling(server, sid, scene.guest_http) as guest,
    ):
        await mentor.send(Join())
        await mentor.expect(Welcome)
        await admit_guest(mentor, guest)

        async def readable() -> bool:
            return await _statuses(scene.guest_http, sid) == {200}

        await wait_for(readable, timeout=5)
    # Stored: a new connection after the room closed goes straight in, no lobby.
    async with signaling(server, sid, scene.guest_http) as again:
        await again.send(Join())
        assert (await again.expect(Welcome)).role == "trainee"


async def test_a_denied_guest_is_signed_out_everywhere(scene: Scene) -> None:
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

    async def signed_out() -> bool:
        return (await scene.guest_http.get("/api/me")).status_code == 401

    await wait_for(signed_out, timeout=5)
    assert await _statuses(scene.guest_http, sid) == {401}
    async with signaling(server, sid, scene.guest_http) as retry:
        assert await retry.closed() == 4401


async def test_withdrawing_an_invite_ends_its_guests_and_closes_their_sockets(
    server: RunningServer, scene: Scene
) -> None:
    sid = scene.session_id
    invites = (await scene.mentor_http.get(f"/api/sessions/{sid}/invites")).json()
    async with (
        signaling(server, sid, scene.mentor_http) as mentor,
        signaling(server, sid, scene.guest_http) as guest,
    ):
        await mentor.send(Join())
        await mentor.expect(Welcome)
        await admit_guest(mentor, guest)

        async def readable() -> bool:
            return await _statuses(scene.guest_http, sid) == {200}

        await wait_for(readable, timeout=5)
        async with yclient(server, sid, scene.guest_http) as notes:
            revoked = await scene.mentor_http.post(
                f"/api/sessions/{sid}/invites/{invites[0]['id']}/revoke"
            )
            assert revoked.status_code == 204
            assert await guest.closed(timeout=1.5) == 4401
            assert await notes.closed(timeout=1.5) == 4401
    assert await _statuses(scene.guest_http, sid) == {401}
