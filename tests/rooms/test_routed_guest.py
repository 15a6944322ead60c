"""A guest let in from the lobby of a routed session (issue 11): its `welcome` comes before the
`media` peer's offer. The welcome waits for the admission to be stored; an offer that overtook it
met a page still in the lobby, not yet in routed mode, and the guest's phone sent nothing to
`media` (only the mentor was recorded)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from server.infra.roles import Role
from signaling import (
    MEDIA_PEER,
    Admit,
    Join,
    Lobby,
    ServerMessage,
    SignalRelay,
    Waiting,
    Welcome,
    parse_server_message,
)
from tests.media.support import loopback_ice
from tests.rooms.client import SignalingClient, signaling
from tests.support import RunningServer

pytestmark = pytest.mark.timeout(60)


async def until(
    client: SignalingClient, kind: type[Any], timeout: float = 10
) -> list[ServerMessage]:
    """Every message up to and including the first of ``kind``."""
    seen: list[ServerMessage] = []
    async with asyncio.timeout(timeout):
        while not seen or not isinstance(seen[-1], kind):
            seen.append(parse_server_message(await client.ws.recv()))
    return seen


async def test_an_admitted_guest_is_welcomed_before_media_offers(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    mentor = await server.user(Role.MENTOR)
    http = await server.signed_in(mentor)
    guest_http = server.client()
    try:
        created = await http.post("/api/sessions", json={"title": "Ward", "media_mode": "routed"})
        session_id = created.json()["id"]
        invite = await http.post(f"/api/sessions/{session_id}/invites", json={"name": "Sam"})
        redeemed = await guest_http.post(f"/api/invites/{invite.json()['token']}/redeem", json={})
        assert redeemed.status_code == 200, redeemed.text

        # Storing the admission takes a moment (a busy database): the welcome waits for it.
        logins = server.services.store.login_sessions
        store_admission = logins.admit_guest

        async def slowly(*args: Any, **kwargs: Any) -> None:
            await asyncio.sleep(0.5)
            await store_admission(*args, **kwargs)

        monkeypatch.setattr(logins, "admit_guest", slowly)
        with loopback_ice():
            async with (
                signaling(server, session_id, http) as desk,
                signaling(server, session_id, guest_http) as phone,
            ):
                await desk.send(Join())
                await desk.expect(Welcome)
                await phone.send(Join())
                await phone.expect(Waiting)
                lobby = await desk.expect(Lobby)
                while not lobby.waiting:
                    lobby = await desk.expect(Lobby)
                await desk.send(Admit(peer=lobby.waiting[0].id))
                before = await until(phone, Welcome)
                assert not [m for m in before if isinstance(m, SignalRelay)], before
                offer = await phone.expect(SignalRelay)
                assert offer.from_ == MEDIA_PEER
                assert offer.description is not None
                assert offer.description.type == "offer"
    finally:
        await http.aclose()
        await guest_http.aclose()
