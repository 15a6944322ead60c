"""A live session to join: a mentor, a session, an invite redeemed by a guest."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from server.roles import Role, User
from tests.support import RunningServer


@dataclass
class Scene:
    server: RunningServer
    mentor: User
    mentor_http: httpx.AsyncClient
    guest_http: httpx.AsyncClient
    session_id: str


async def make_scene(server: RunningServer) -> Scene:
    mentor = await server.user(Role.MENTOR)
    mentor_http = await server.signed_in(mentor)
    created = await mentor_http.post("/api/sessions", json={"title": "Chest pain history"})
    assert created.status_code == 201, created.text
    session_id = created.json()["id"]
    invite = await mentor_http.post(
        f"/api/sessions/{session_id}/invites", json={"name": "Sam Student"}
    )
    assert invite.status_code == 201, invite.text
    guest_http = server.client()
    redeemed = await guest_http.post(f"/api/invites/{invite.json()['token']}/redeem", json={})
    assert redeemed.status_code == 200, redeemed.text
    guest_http.headers["X-CSRF-Token"] = redeemed.json()["csrf_token"]
    return Scene(server, mentor, mentor_http, guest_http, session_id)


@pytest.fixture
async def scene(server: RunningServer) -> AsyncIterator[Scene]:
    made = await make_scene(server)
    yield made
    await made.mentor_http.aclose()
    await made.guest_http.aclose()
