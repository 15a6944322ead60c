"""What the admin pages and the reset page stand on: human messages for bad bodies, one-time
password reset links, the assignment list, and the pages themselves."""

from __future__ import annotations

import asyncio
import re

import sqlalchemy as sa

from server.http.pages import PAGES
from server.infra.roles import Role
from server.infra.storage import Store
from server.infra.storage.schema import password_resets
from tests.support import RunningServer


async def test_a_bad_body_is_answered_with_a_sentence_and_its_field(server: RunningServer) -> None:
    async with server.client() as client:
        empty = await client.post("/api/auth/login", json={"email": "", "password": ""})
        missing = await client.post("/api/auth/login", json={"password": "x"})
        malformed = await client.post("/api/auth/login", json={"email": "ada", "password": "x"})
    assert empty.status_code == missing.status_code == malformed.status_code == 422
    assert empty.json() == {
        "error": "invalid",
        "message": "The e-mail address is missing; fill it in and try again.",
        "fields": {"email": "required"},
    }
    assert missing.json()["fields"] == {"email": "required"}
    assert malformed.json()["message"] == (
        "The e-mail address is not complete; write it as name@example.org."
    )
    admin = await server.user(Role.ADMIN)
    client = await server.signed_in(admin)
    body = {"email": "n@example.org", "name": "N", "role": "wizard", "password": "long-enough-1"}
    wizard = (await client.post("/api/admin/users", json=body)).json()
    assert wizard["message"] == "The role must be one of: admin, mentor, trainee, supervisor."
    assert wizard["fields"] == {"role": "one of admin, mentor, trainee, supervisor"}
    long_name = (await client.post("/api/admin/users", json={**body, "name": "x" * 201})).json()
    assert long_name["message"] == "The name is too long; use at most 200 characters."
    await client.aclose()
    # No developer text anywhere: no backticks, no JSON paths, no "Expected".
    for answer in (empty, missing, malformed):
        assert "`" not in answer.text
        assert "$." not in answer.text
        assert "Expected" not in answer.text


async def test_a_reset_link_works_once_and_ends_the_other_sign_ins(server: RunningServer) -> None:
    admin = await server.user(Role.ADMIN)
    mentor = await server.user(Role.MENTOR)
    admin_http = await server.signed_in(admin)
    mentor_http = await server.signed_in(mentor)  # a sign-in the reset must end

    made = await admin_http.post(f"/api/admin/users/{mentor.id}/password-reset")
    assert made.status_code == 201, made.text
    url = made.json()["url"]
    assert url.startswith(f"{server.url}/reset#")
    token = url.split("#", 1)[1]
    async with server.services.store.engine.connect() as connection:
        stored = [tuple(r) for r in (await connection.execute(sa.select(password_resets))).all()]
    assert stored
    assert token not in repr(stored)

    async with server.client() as browser:
        looked = await browser.post("/api/password-resets/lookup", json={"token": token})
        assert looked.status_code == 200
        assert looked.json()["name"] == mentor.name
        weak = await browser.post("/api/password-resets", json={"token": token, "password": "x"})
        assert weak.status_code == 422
        assert (
            weak.json()["message"] == "The password must be at least 10 characters; choose another."
        )
        done = await browser.post(
            "/api/password-resets", json={"token": token, "password": "a-brand-new-pass"}
        )
        assert done.status_code == 200, done.text
        assert done.json()["user"]["id"] == mentor.id
        assert (await browser.get("/api/me")).status_code == 200  # signed in here
        again = await browser.post(
            "/api/password-resets", json={"token": token, "password": "another-new-pass"}
        )
        assert again.status_code == 410
        assert again.json()["message"] == (
            "This link has expired or was used already; ask your administrator for a new one."
        )
    assert (await mentor_http.get("/api/me")).status_code == 401
    async with server.client() as client:
        old = {"email": mentor.email, "password": "s3cret-pass!"}
        assert (await client.post("/api/auth/login", json=old)).status_code == 401
    assert await server.signed_in(mentor, password="a-brand-new-pass")
    actions = [e.action for e in await server.services.store.audit.recent(20)]
    assert "password.reset-link" in actions
    assert "password.reset" in actions
    await admin_http.aclose()
    await mentor_http.aclose()


async def test_a_newer_link_spends_the_older_and_disabled_accounts_get_none(
    server: RunningServer,
) -> None:
    admin = await server.user(Role.ADMIN)
    trainee = await server.user(Role.TRAINEE)
    client = await server.signed_in(admin)
    first = (await client.post(f"/api/admin/users/{trainee.id}/password-reset")).json()["url"]
    await client.post(f"/api/admin/users/{trainee.id}/password-reset")
    async with server.client() as browser:
        token = first.split("#", 1)[1]
        stale = await browser.post("/api/password-resets/lookup", json={"token": token})
        assert stale.status_code == 410
    await client.post(f"/api/admin/users/{trainee.id}/disable")
    refused = await client.post(f"/api/admin/users/{trainee.id}/password-reset")
    assert refused.status_code == 409
    assert refused.json()["message"].startswith("This account is disabled")
    own = await client.post(f"/api/admin/users/{admin.id}/disable")
    assert own.json()["message"] == (
        "You cannot disable your own account; ask another admin to do it."
    )
    await client.aclose()


async def test_assignments_are_listed_with_names(server: RunningServer) -> None:
    admin = await server.user(Role.ADMIN)
    supervisor = await server.user(Role.SUPERVISOR)
    trainee = await server.user(Role.TRAINEE)
    client = await server.signed_in(admin)
    assert (await client.get("/api/admin/assignments")).json() == []
    pair = {"supervisor_id": supervisor.id, "trainee_id": trainee.id}
    assert (await client.post("/api/admin/assignments", json=pair)).status_code == 201
    assert (await client.get("/api/admin/assignments")).json() == [
        {
            "supervisor_id": supervisor.id,
            "supervisor_name": supervisor.name,
            "trainee_id": trainee.id,
            "trainee_name": trainee.name,
        }
    ]
    gone = await client.delete(f"/api/admin/assignments/{supervisor.id}/{trainee.id}")
    assert gone.status_code == 204
    assert (await client.get("/api/admin/assignments")).json() == []
    await client.aclose()


async def test_every_page_links_the_icons(server: RunningServer) -> None:
    async with server.client() as client:
        for template in PAGES:
            page = await client.get(re.sub(r"\{[^}]+\}", "x", template))
            assert page.status_code == 200, template
            assert '<link rel="icon" href="/static/icons/favicon.svg"' in page.text, template
            assert '<link rel="apple-touch-icon"' in page.text, template
            assert '<link rel="manifest" href="/static/icons/manifest.webmanifest">' in page.text
        manifest = (await client.get("/static/icons/manifest.webmanifest")).json()
        for icon in manifest["icons"]:
            assert (await client.get(icon["src"])).status_code == 200, icon


# --- the store, on SQLite and PostgreSQL ----------------------------------------------------------


async def test_a_reset_link_is_spent_once_when_two_race(store: Store) -> None:
    user = await store.users.create(
        email="kim@example.org", name="Kim", role=Role.TRAINEE, password_hash="old"
    )
    token = await store.users.open_reset(user.id, created_by=None, now=1000.0, ttl_s=60)
    holder = await store.users.reset_holder(token, now=1001.0)
    assert holder is not None
    assert holder[0].id == user.id
    assert holder[1] == 1060.0
    assert await store.users.reset_holder(token, now=1060.0) is None  # expired
    assert await store.users.spend_reset(token, "late", now=1061.0) is None
    token = await store.users.open_reset(user.id, created_by=None, now=2000.0, ttl_s=60)
    won = await asyncio.gather(
        *(store.users.spend_reset(token, f"new-{i}", now=2001.0) for i in range(4))
    )
    assert won.count(user.id) == 1
    assert won.count(None) == 3
    assert await store.users.reset_holder(token, now=2002.0) is None
    found = await store.users.credentials("kim@example.org")
    assert found is not None
    assert found[1].startswith("new-")
