"""A session created `direct` keeps its promise that video never touches the server: an
assigned supervisor cannot observe it, and is told so by name (4403 `direct-video`), while the
same supervisor observes the same trainee's `auto` session."""

from __future__ import annotations

from server.infra.roles import Role
from signaling import Join, MediaMode, Welcome
from signaling.close_codes import CLOSE_NOT_ALLOWED, REASON_DIRECT_VIDEO
from tests.rooms.client import signaling
from tests.support import RunningServer


async def test_a_direct_session_cannot_be_observed_and_says_why(server: RunningServer) -> None:
    mentor = await server.user(Role.MENTOR)
    trainee = await server.user(Role.TRAINEE)
    supervisor = await server.user(Role.SUPERVISOR)
    await server.services.accounts.assign(supervisor.id, trainee.id, actor_id=None)
    mentor_http = await server.signed_in(mentor)
    observer_http = await server.signed_in(supervisor)
    try:
        sessions = {}
        for mode in ("direct", "auto"):
            created = await mentor_http.post(
                "/api/sessions",
                json={"title": "Ward round", "trainee_ids": [trainee.id], "media_mode": mode},
            )
            assert created.status_code == 201, created.text
            sessions[mode] = created.json()["id"]

        async with signaling(server, sessions["direct"], observer_http) as client:
            assert await client.closed() == CLOSE_NOT_ALLOWED
            assert client.ws.close_reason == REASON_DIRECT_VIDEO

        async with signaling(server, sessions["auto"], observer_http) as client:
            await client.send(Join())
            welcome = await client.expect(Welcome)
            assert welcome.media_mode is MediaMode.ROUTED
    finally:
        await mentor_http.aclose()
        await observer_http.aclose()
