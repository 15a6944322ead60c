"""The principal kept per sign-in (server/http/principal_cache.py): repeated requests do not look
the sign-in up again, and whatever ends a sign-in or shrinks an account's rights counts at once."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import event

from server.infra.roles import Role
from server.infra.storage.schema import login_sessions
from tests.support import RunningServer, Scene


async def test_a_page_load_looks_the_sign_in_up_once(server: RunningServer) -> None:
    user = await server.user(Role.MENTOR)
    client = await server.signed_in(user)
    lookups: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "login_sessions" in statement:
            lookups.append(statement)

    store = server.services.store
    # Writes' engine and the one short reads run on (a second engine over the file on SQLite).
    engines = {store.engine.sync_engine, store.reads.engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        for _ in range(5):
            assert (await client.get("/api/me")).status_code == 200
            assert (await client.get("/api/sessions")).status_code == 200
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)
    assert len(lookups) == 1
    await client.aclose()


async def test_a_kept_sign_in_ends_at_once_on_sign_out(server: RunningServer) -> None:
    user = await server.user(Role.TRAINEE)
    client = await server.signed_in(user)
    assert (await client.get("/api/me")).status_code == 200  # now kept
    stolen = dict(client.cookies)
    assert (await client.post("/api/auth/logout")).status_code in (200, 204)
    async with server.client(cookies=stolen) as thief:
        assert (await thief.get("/api/me")).status_code == 401
    await client.aclose()


async def test_a_kept_account_is_refused_at_once_when_disabled(server: RunningServer) -> None:
    admin = await server.services.accounts.create_user(
        email="admin-cache@example.org",
        name="Ada Admin",
        role=Role.ADMIN,
        password="s3cret-pass!",
        actor_id=None,
    )
    trainee = await server.user(Role.TRAINEE)
    trainee_client = await server.signed_in(trainee)
    admin_client = await server.signed_in(admin)
    assert (await trainee_client.get("/api/me")).status_code == 200
    assert (await admin_client.post(f"/api/admin/users/{trainee.id}/disable")).status_code == 200
    assert (await trainee_client.get("/api/me")).status_code == 401
    await trainee_client.aclose()
    await admin_client.aclose()


async def test_an_unassigned_supervisor_loses_the_record_at_once(server: RunningServer) -> None:
    mentor = await server.user(Role.MENTOR)
    trainee = await server.user(Role.TRAINEE)
    supervisor = await server.user(Role.SUPERVISOR)
    await server.services.store.users.assign(supervisor.id, trainee.id)
    mentor_http = await server.signed_in(mentor)
    made = await mentor_http.post(
        "/api/sessions", json={"title": "Ward round", "trainee_ids": [trainee.id]}
    )
    session_id = made.json()["id"]
    watcher = await server.signed_in(supervisor)
    assert (await watcher.get(f"/api/sessions/{session_id}")).status_code == 200  # now kept
    await server.services.accounts.unassign(supervisor.id, trainee.id, actor_id=None)
    assert (await watcher.get(f"/api/sessions/{session_id}")).status_code == 404
    await watcher.aclose()
    await mentor_http.aclose()


async def test_a_kept_guest_is_out_at_once_when_the_invite_is_withdrawn(scene: Scene) -> None:
    svc = scene.server.services
    me = (await scene.guest_http.get("/api/me")).json()
    await svc.store.login_sessions.admit_guest(me["user"]["id"], scene.session_id, now=1.0)
    record = f"/api/sessions/{scene.session_id}/record"
    assert (await scene.guest_http.get(record)).status_code == 200  # admitted, now kept
    async with svc.store.engine.connect() as connection:
        invite_id = (
            await connection.execute(
                sa.select(login_sessions.c.invite_id).where(
                    login_sessions.c.guest_id == me["user"]["id"]
                )
            )
        ).scalar_one()
    withdrawn = await scene.mentor_http.post(
        f"/api/sessions/{scene.session_id}/invites/{invite_id}/revoke"
    )
    assert withdrawn.status_code == 204
    assert (await scene.guest_http.get(record)).status_code == 401
