"""The session's observer setting (issue 11): only its mentor (or an admin) changes it, it is in
the session's answer with the capability to change it, and a call in progress follows at once:
the trainee stops seeing the observer, the mentor never does."""

from __future__ import annotations

import pytest

from server.infra.roles import Role
from signaling import Join, PeerJoined, PeerLeft, Ping, Pong, Welcome
from tests.rooms.client import signaling
from tests.support import RunningServer

pytestmark = pytest.mark.timeout(60)


async def test_only_the_mentor_or_an_admin_hides_observers_and_the_call_follows(
    server: RunningServer,
) -> None:
    mentor, trainee = await server.user(Role.MENTOR), await server.user(Role.TRAINEE)
    supervisor, admin = await server.user(Role.SUPERVISOR), await server.user(Role.ADMIN)
    await server.services.accounts.assign(supervisor.id, trainee.id, actor_id=None)
    https = [await server.signed_in(u) for u in (mentor, trainee, supervisor, admin)]
    mentor_http, trainee_http, supervisor_http, admin_http = https
    try:
        created = await mentor_http.post(
            "/api/sessions",
            json={"title": "Ward", "trainee_ids": [trainee.id], "media_mode": "routed"},
        )
        session = created.json()
        assert session["observers_hidden"] is False
        assert "observers.configure" in session["can"]
        path = f"/api/sessions/{session['id']}/observers"
        seen_by_trainee = (await trainee_http.get(f"/api/sessions/{session['id']}")).json()
        assert "observers.configure" not in seen_by_trainee["can"]
        for http in (trainee_http, supervisor_http):
            refused = await http.put(path, json={"hidden": True})
            assert refused.status_code == 403
            assert "only the session's mentor" in refused.json()["message"]
        bad = await mentor_http.put(path, json={"hidden": "yes"})
        assert bad.status_code == 422

        async with (
            signaling(server, session["id"], mentor_http) as desk,
            signaling(server, session["id"], trainee_http) as phone,
            signaling(server, session["id"], supervisor_http) as watcher,
        ):
            for client in (desk, phone, watcher):
                await client.send(Join())
                await client.expect(Welcome)
            observer = (await phone.expect(PeerJoined)).peer
            assert observer.observer

            hidden = await mentor_http.put(path, json={"hidden": True})
            assert hidden.status_code == 200
            assert hidden.json()["observers_hidden"] is True
            assert (await phone.expect(PeerLeft)).peer == observer.id
            # The mentor still sees the observer: nothing came but the answer to a ping.
            await desk.send(Ping(id="after"))
            await desk.expect(Pong)
            assert not [m for m in desk.received if isinstance(m, PeerLeft)]

            shown = await admin_http.put(path, json={"hidden": False})
            assert shown.status_code == 200
            assert (await phone.expect(PeerJoined)).peer.id == observer.id

        await mentor_http.post(f"/api/sessions/{session['id']}/end")
        ended = await mentor_http.put(path, json={"hidden": True})
        assert ended.status_code == 409
    finally:
        for http in https:
            await http.aclose()
