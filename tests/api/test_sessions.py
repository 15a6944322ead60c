"""Sessions and invite links through the HTTP API, with their role checks."""

from __future__ import annotations

import time

from server.infra.roles import Role
from server.infra.storage.schema import invites
from tests.support import RunningServer


async def test_mentor_creates_lists_and_ends_sessions(server: RunningServer) -> None:
    mentor = await server.user(Role.MENTOR)
    trainee = await server.user(Role.TRAINEE)
    other_mentor = await server.user(Role.MENTOR)
    supervisor = await server.user(Role.SUPERVISOR)
    outsider_supervisor = await server.user(Role.SUPERVISOR)
    admin = await server.user(Role.ADMIN)
    await server.services.accounts.assign(supervisor.id, trainee.id, actor_id=None)
    client = await server.signed_in(mentor)
    created = await client.post(
        "/api/sessions", json={"title": "  Lumbar puncture  ", "trainee_ids": [trainee.id]}
    )
    assert created.status_code == 201
    session = created.json()
    assert session["title"] == "Lumbar puncture"
    assert session["status"] == "scheduled"
    assert session["media_mode"] == "auto"  # direct for two, routed when it needs to be
    assert session["mentor_name"] == "Test Mentor"
    assert session["trainee_ids"] == [trainee.id]

    for user, sees in [
        (mentor, True),
        (trainee, True),
        (supervisor, True),
        (admin, True),
        (other_mentor, False),
        (outsider_supervisor, False),
    ]:
        viewer = await server.signed_in(user)
        listed = [s["id"] for s in (await viewer.get("/api/sessions")).json()]
        assert (session["id"] in listed) is sees, user.role
        one = await viewer.get(f"/api/sessions/{session['id']}")
        assert one.status_code == (200 if sees else 404), user.role
        await viewer.aclose()

    trainee_client = await server.signed_in(trainee)
    assert (await trainee_client.post("/api/sessions", json={"title": "x"})).status_code == 403
    assert (await trainee_client.post(f"/api/sessions/{session['id']}/end")).status_code == 403
    await trainee_client.aclose()

    ended = await client.post(f"/api/sessions/{session['id']}/end")
    assert ended.json()["status"] == "ended"
    assert ended.json()["ended_at"] is not None
    again = await client.post(f"/api/sessions/{session['id']}/end")
    assert again.status_code == 200
    assert again.json()["ended_at"] == ended.json()["ended_at"]
    await client.aclose()


async def test_bad_session_input(server: RunningServer) -> None:
    mentor = await server.user(Role.MENTOR)
    other = await server.user(Role.MENTOR)
    client = await server.signed_in(mentor)
    for body, fragment in [
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "ok", "trainee_ids": [other.id]}, "not a trainee"),
        ({"title": "ok", "media_mode": "carrier-pigeon"}, "media mode must be one of"),
        ({"title": "ok", "colour": "red"}, "colour"),
    ]:
        response = await client.post("/api/sessions", json=body)
        assert response.status_code == 422, body
        assert fragment in response.json()["message"], (body, response.json())
    assert (await client.get("/api/sessions")).json() == []
    await client.aclose()


async def test_invite_link_lifecycle(server: RunningServer) -> None:
    mentor = await server.user(Role.MENTOR)
    client = await server.signed_in(mentor)
    session = (await client.post("/api/sessions", json={"title": "Suturing"})).json()
    made = await client.post(
        f"/api/sessions/{session['id']}/invites", json={"name": "Ria", "max_uses": 2}
    )
    assert made.status_code == 201
    invite = made.json()
    assert invite["url"] == f"{server.url}/join/{invite['token']}"
    assert len(invite["token"]) >= 32  # 192 random bits, URL-safe base64
    assert made.headers["cache-control"] == "no-store"

    async with server.client() as phone:
        info = await phone.get(f"/api/invites/{invite['token']}")
        assert info.json()["session_title"] == "Suturing"
        assert info.json()["invitee_name"] == "Ria"
        page = await phone.get(f"/join/{invite['token']}")
        assert page.status_code == 200
        assert page.headers["referrer-policy"] == "no-referrer"
        redeemed = await phone.post(f"/api/invites/{invite['token']}/redeem", json={})
        assert redeemed.status_code == 200
        assert redeemed.json()["session_id"] == session["id"]
        phone.headers["X-CSRF-Token"] = redeemed.json()["csrf_token"]
        me = (await phone.get("/api/me")).json()
        assert me["scope_session_id"] == session["id"]
        assert me["user"]["name"] == "Ria"
        assert me["user"]["role"] == "trainee"
        # The guest sees its session and nothing else.
        assert (await phone.get(f"/api/sessions/{session['id']}")).status_code == 200
        assert [s["id"] for s in (await phone.get("/api/sessions")).json()] == [session["id"]]
        assert (await phone.get("/api/admin/users")).status_code == 403
        assert (await phone.post("/api/sessions", json={"title": "mine"})).status_code == 403
        other = (await client.post("/api/sessions", json={"title": "Other"})).json()
        assert (await phone.get(f"/api/sessions/{other['id']}")).status_code == 404

    async with server.client() as second:
        ok = await second.post(
            f"/api/invites/{invite['token']}/redeem", json={"display_name": "Ria M."}
        )
        assert ok.status_code == 200
    async with server.client() as third:
        used_up = await third.post(f"/api/invites/{invite['token']}/redeem", json={})
        assert used_up.status_code == 410
        assert used_up.json()["error"] == "invite-used-up"

    listed = (await client.get(f"/api/sessions/{session['id']}/invites")).json()
    assert [(i["uses"], i["max_uses"], i["revoked"]) for i in listed] == [(2, 2, False)]
    assert "token" not in listed[0]
    await client.aclose()


async def test_expired_revoked_and_tampered_invites_are_refused(server: RunningServer) -> None:
    mentor = await server.user(Role.MENTOR)
    client = await server.signed_in(mentor)
    session = (await client.post("/api/sessions", json={"title": "Triage"})).json()
    url = f"/api/sessions/{session['id']}/invites"
    expired = (await client.post(url, json={"name": "A"})).json()
    revoked = (await client.post(url, json={"name": "B"})).json()
    async with server.services.store.engine.begin() as connection:
        await connection.execute(
            invites.update().where(invites.c.id == expired["id"]).values(expires_at=time.time() - 1)
        )
    assert (await client.post(f"{url}/{revoked['id']}/revoke")).status_code == 204
    assert (await client.post(f"{url}/{revoked['id']}/revoke")).status_code == 404
    async with server.client() as phone:
        for token, status, error in [
            (expired["token"], 410, "invite-expired"),
            (revoked["token"], 410, "invite-revoked"),
            (revoked["token"][:-2] + "xx", 404, "invite-unknown"),
        ]:
            response = await phone.post(f"/api/invites/{token}/redeem", json={})
            assert (response.status_code, response.json()["error"]) == (status, error)
            assert "message" in response.json()
            assert "set-cookie" not in response.headers
            info = await phone.get(f"/api/invites/{token}")
            assert info.status_code == status
    refused = [
        e for e in await server.services.store.audit.recent(10) if e.action == "invite.refused"
    ]
    assert len(refused) == 3
    assert all(expired["token"] not in str(e) for e in await server.services.store.audit.recent(50))
    await client.aclose()


async def test_invites_need_a_named_invitee_and_the_owning_mentor(server: RunningServer) -> None:
    mentor = await server.user(Role.MENTOR)
    other = await server.user(Role.MENTOR)
    client = await server.signed_in(mentor)
    session = (await client.post("/api/sessions", json={"title": "Ward round"})).json()
    url = f"/api/sessions/{session['id']}/invites"
    nameless = await client.post(url, json={})
    assert nameless.status_code == 422
    assert "name" in nameless.json()["message"]
    assert (await client.post(url, json={"name": "A", "expires_in_s": 5})).status_code == 422
    assert (await client.post(url, json={"name": "A", "trainee_id": "nobody"})).status_code == 422
    intruder = await server.signed_in(other)
    assert (await intruder.post(url, json={"name": "A"})).status_code == 404
    await intruder.aclose()
    await client.post(f"/api/sessions/{session['id']}/end")
    late = await client.post(url, json={"name": "A"})
    assert late.status_code == 409
    await client.aclose()


async def test_invite_for_a_trainee_account_grants_presence_not_the_account(
    server: RunningServer,
) -> None:
    """Hole 2 of issue 8: a forwarded trainee-bound link was the trainee's account."""
    mentor = await server.user(Role.MENTOR)
    trainee = await server.user(Role.TRAINEE)
    client = await server.signed_in(mentor)
    session = (
        await client.post("/api/sessions", json={"title": "OSCE", "trainee_ids": [trainee.id]})
    ).json()
    invite = (
        await client.post(f"/api/sessions/{session['id']}/invites", json={"trainee_id": trainee.id})
    ).json()
    assert invite["name"] == trainee.name
    async with server.client() as phone:
        await phone.post(f"/api/invites/{invite['token']}/redeem", json={})
        me = (await phone.get("/api/me")).json()
    assert me["user"]["id"] != trainee.id
    assert me["user"]["name"] == trainee.name
    assert me["scope_session_id"] == session["id"]
    await client.aclose()
