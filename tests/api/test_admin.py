"""Administration through the API: accounts, assignments, the audit log and its verification."""

from __future__ import annotations

from server.infra.roles import Role
from server.infra.storage.schema import audit_events
from tests.support import RunningServer


async def test_admin_creates_accounts_who_can_then_sign_in(server: RunningServer) -> None:
    admin = await server.user(Role.ADMIN)
    client = await server.signed_in(admin)
    created = await client.post(
        "/api/admin/users",
        json={
            "email": "new@example.org",
            "name": "Nia",
            "role": "trainee",
            "password": "a-long-password",
        },
    )
    assert created.status_code == 201
    assert created.json()["role"] == "trainee"
    duplicate = await client.post(
        "/api/admin/users",
        json={
            "email": "NEW@example.org",
            "name": "X",
            "role": "mentor",
            "password": "a-long-password",
        },
    )
    assert duplicate.status_code == 409
    weak = await client.post(
        "/api/admin/users",
        json={"email": "w@example.org", "name": "W", "role": "mentor", "password": "short"},
    )
    assert weak.status_code == 422
    assert weak.json()["error"] == "weak-password"
    listed = (await client.get("/api/admin/users", params={"role": "trainee"})).json()
    assert [u["email"] for u in listed] == ["new@example.org"]
    assert (await client.get("/api/admin/users", params={"role": "wizard"})).status_code == 422
    async with server.client() as fresh:
        login = await fresh.post(
            "/api/auth/login", json={"email": "new@example.org", "password": "a-long-password"}
        )
    assert login.status_code == 200
    await client.aclose()


async def test_only_admins_administer(server: RunningServer) -> None:
    mentor = await server.user(Role.MENTOR)
    client = await server.signed_in(mentor)
    for method, path in [
        ("GET", "/api/admin/users"),
        ("POST", f"/api/admin/users/{mentor.id}/disable"),
        ("GET", "/api/admin/audit"),
        ("GET", "/api/admin/audit/verify"),
    ]:
        response = await client.request(method, path)
        assert response.status_code == 403, path
        assert response.json()["error"] == "forbidden"
    async with server.client() as anonymous:
        assert (await anonymous.get("/api/admin/users")).status_code == 401
    await client.aclose()


async def test_admin_cannot_lock_themselves_out(server: RunningServer) -> None:
    admin = await server.user(Role.ADMIN)
    client = await server.signed_in(admin)
    response = await client.post(f"/api/admin/users/{admin.id}/disable")
    assert response.status_code == 409
    assert (await client.get("/api/me")).status_code == 200
    assert (await client.post("/api/admin/users/nobody/disable")).status_code == 404
    await client.aclose()


async def test_assignments_link_supervisors_to_trainees(server: RunningServer) -> None:
    admin = await server.user(Role.ADMIN)
    supervisor = await server.user(Role.SUPERVISOR)
    trainee = await server.user(Role.TRAINEE)
    mentor = await server.user(Role.MENTOR)
    client = await server.signed_in(admin)
    ok = await client.post(
        "/api/admin/assignments", json={"supervisor_id": supervisor.id, "trainee_id": trainee.id}
    )
    assert ok.status_code == 201
    wrong_roles = await client.post(
        "/api/admin/assignments", json={"supervisor_id": mentor.id, "trainee_id": trainee.id}
    )
    assert wrong_roles.status_code == 422
    assert "not a supervisor" in wrong_roles.json()["message"]
    trainees = await server.services.store.users.trainees_of(supervisor.id)
    assert [t.id for t in trainees] == [trainee.id]
    removed = await client.delete(f"/api/admin/assignments/{supervisor.id}/{trainee.id}")
    assert removed.status_code == 204
    again = await client.delete(f"/api/admin/assignments/{supervisor.id}/{trainee.id}")
    assert again.status_code == 404
    await client.aclose()


async def test_audit_log_records_and_verifies(server: RunningServer) -> None:
    admin = await server.user(Role.ADMIN)
    client = await server.signed_in(admin)
    async with server.client() as stranger:
        await stranger.post(
            "/api/auth/login", json={"email": admin.email, "password": "not-the-password"}
        )
    events = (await client.get("/api/admin/audit", params={"limit": "10"})).json()
    actions = [e["action"] for e in events]
    assert "login.failed" in actions
    assert "login" in actions
    assert "user.created" in actions
    assert all("not-the-password" not in str(e) for e in events)
    verdict = (await client.get("/api/admin/audit/verify")).json()
    assert verdict["intact"] is True
    assert verdict["checked"] == len(events)

    async with server.services.store.engine.begin() as connection:
        await connection.execute(
            audit_events.update().where(audit_events.c.seq == 2).values(action="harmless")
        )
    verdict = (await client.get("/api/admin/audit/verify")).json()
    assert verdict["intact"] is False
    assert verdict["first_break"]["seq"] == 2
    assert (await client.get("/api/admin/audit", params={"limit": "0"})).status_code == 422
    await client.aclose()
