"""Signing in and out through the real server, and how it answers bad input."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import httpx
import sqlalchemy as sa

from server.app import create_app
from server.config import Config
from server.infra.roles import Role
from server.infra.storage.schema import login_sessions, users
from tests.support import FAST_PASSWORDS, RunningServer, running_server


async def test_sign_in_me_sign_out(server: RunningServer) -> None:
    mentor = await server.user(Role.MENTOR, email="Mentor@Example.org")
    async with server.client() as client:
        assert (await client.get("/api/me")).status_code == 401
        login = await client.post(
            "/api/auth/login", json={"email": "mentor@example.org", "password": "s3cret-pass!"}
        )
        assert login.status_code == 200
        body = login.json()
        assert body["user"] == {
            "id": mentor.id,
            "email": "mentor@example.org",
            "name": "Test Mentor",
            "role": "mentor",
            "disabled": False,
        }
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie
        assert "SameSite=lax" in cookie
        me = await client.get("/api/me")
        assert me.status_code == 200
        assert me.json()["csrf_token"] == body["csrf_token"]
        assert me.headers["cache-control"] == "no-store"

        refused = await client.post("/api/auth/logout")
        assert refused.status_code == 403
        assert refused.json()["error"] == "csrf"
        wrong = await client.post("/api/auth/logout", headers={"X-CSRF-Token": "forged"})
        assert wrong.status_code == 403
        assert (await client.get("/api/me")).status_code == 200

        out = await client.post("/api/auth/logout", headers={"X-CSRF-Token": body["csrf_token"]})
        assert out.status_code == 204
        assert (await client.get("/api/me")).status_code == 401
    actions = [e.action for e in await server.services.store.audit.recent(10)]
    assert actions[:2] == ["logout", "login"]


async def test_stolen_cookie_is_useless_after_logout(server: RunningServer) -> None:
    user = await server.user(Role.TRAINEE)
    client = await server.signed_in(user)
    stolen = dict(client.cookies)
    await client.post("/api/auth/logout")
    async with server.client(cookies=stolen) as thief:
        assert (await thief.get("/api/me")).status_code == 401
    await client.aclose()


async def test_login_rotates_the_session(server: RunningServer) -> None:
    user = await server.user(Role.MENTOR)
    client = await server.signed_in(user)
    first = dict(client.cookies)
    again = await client.post(
        "/api/auth/login", json={"email": user.email, "password": "s3cret-pass!"}
    )
    assert again.status_code == 200
    assert dict(client.cookies) != first
    async with server.client(cookies=first) as old:
        assert (await old.get("/api/me")).status_code == 401
    assert (await client.get("/api/me")).status_code == 200
    await client.aclose()


async def test_wrong_password_and_unknown_user_look_the_same(server: RunningServer) -> None:
    user = await server.user(Role.MENTOR)
    async with server.client() as client:
        wrong = await client.post(
            "/api/auth/login", json={"email": user.email, "password": "nope-nope-nope"}
        )
        unknown = await client.post(
            "/api/auth/login", json={"email": "ghost@example.org", "password": "nope-nope-nope"}
        )
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {
            "error": "invalid-credentials",
            "message": "Wrong e-mail or password; check both and try again.",
        }
    )
    assert "set-cookie" not in wrong.headers


async def test_disabled_user_cannot_sign_in_and_loses_open_sessions(
    server: RunningServer,
) -> None:
    admin = await server.user(Role.ADMIN)
    trainee = await server.user(Role.TRAINEE)
    trainee_client = await server.signed_in(trainee)
    admin_client = await server.signed_in(admin)
    response = await admin_client.post(f"/api/admin/users/{trainee.id}/disable")
    assert response.status_code == 200
    assert response.json()["disabled"] is True
    assert (await trainee_client.get("/api/me")).status_code == 401
    async with server.client() as client:
        refused = await client.post(
            "/api/auth/login", json={"email": trainee.email, "password": "s3cret-pass!"}
        )
    # Answered as a wrong password is (tests/api/test_throttling.py checks it in full).
    assert refused.status_code == 401
    assert refused.json()["error"] == "invalid-credentials"
    await trainee_client.aclose()
    await admin_client.aclose()


async def test_idle_session_expires(server: RunningServer) -> None:
    user = await server.user(Role.MENTOR)
    client = await server.signed_in(user)
    # Pretend 31 minutes passed without a request.
    async with server.services.store.engine.begin() as connection:
        await connection.execute(
            login_sessions.update()
            .where(login_sessions.c.user_id == user.id)
            .values(last_seen_at=time.time() - 31 * 60)
        )
    response = await client.get("/api/me")
    assert response.status_code == 401
    assert response.json()["error"] == "not-authenticated"
    await client.aclose()


async def test_absolute_timeout(server: RunningServer) -> None:
    user = await server.user(Role.MENTOR)
    client = await server.signed_in(user)
    async with server.services.store.engine.begin() as connection:
        await connection.execute(
            login_sessions.update()
            .where(login_sessions.c.user_id == user.id)
            .values(expires_at=time.time() - 1)
        )
    assert (await client.get("/api/me")).status_code == 401
    await client.aclose()


async def test_failed_logins_are_throttled_per_account(server: RunningServer) -> None:
    user = await server.user(Role.MENTOR)
    async with server.client() as client:
        for _ in range(server.config.login_attempts_per_account):
            r = await client.post(
                "/api/auth/login", json={"email": user.email, "password": "guess-guess"}
            )
            assert r.status_code == 401
        blocked = await client.post(
            "/api/auth/login", json={"email": user.email, "password": "s3cret-pass!"}
        )
    assert blocked.status_code == 429
    assert blocked.json()["error"] == "too-many-attempts"
    assert int(blocked.headers["retry-after"]) > 0
    assert "try again" in blocked.json()["message"]


async def test_failed_logins_are_throttled_per_ip(tmp_path: Path, config: Config) -> None:
    async with running_server(replace(config, login_attempts_per_ip=3)) as server:
        async with server.client() as client:
            for i in range(3):
                r = await client.post(
                    "/api/auth/login",
                    json={"email": f"spray{i}@example.org", "password": "guess-guess"},
                )
                assert r.status_code == 401
            blocked = await client.post(
                "/api/auth/login", json={"email": "another@example.org", "password": "x"}
            )
        assert blocked.status_code == 429


async def test_bad_input_gets_clear_errors_and_changes_nothing(server: RunningServer) -> None:
    admin = await server.user(Role.ADMIN)
    client = await server.signed_in(admin)
    cases = [
        (b'{"email": "a@b.c"', "application/json", 400, "bad-json"),
        (b"[]", "application/json", 422, "invalid"),
        (b'{"email": "a@b.c"}', "application/json", 422, "invalid"),
        (b'{"email": "a@b.c", "password": "x", "admin": true}', "application/json", 422, "invalid"),
        (b'{"email": 5, "password": "x"}', "application/json", 422, "invalid"),
        (b"email=a@b.c", "application/x-www-form-urlencoded", 415, "unsupported-media-type"),
        (b"x" * (2 << 20), "application/json", 413, "too-large"),
    ]
    for body, content_type, status, error in cases:
        r = await client.post(
            "/api/auth/login", content=body, headers={"Content-Type": content_type}
        )
        assert r.status_code == status, (body[:40], r.text)
        assert r.json()["error"] == error
        assert r.json()["message"]
    unknown_field = await client.post(
        "/api/admin/users",
        json={
            "email": "n@example.org",
            "name": "N",
            "role": "mentor",
            "password": "long-enough-1",
            "x": 1,
        },
    )
    assert unknown_field.status_code == 422
    assert "`x`" in unknown_field.json()["message"]
    bad_role = await client.post(
        "/api/admin/users",
        json={"email": "n@example.org", "name": "N", "role": "wizard", "password": "long-enough-1"},
    )
    assert bad_role.status_code == 422
    assert "role" in bad_role.json()["message"]
    async with server.services.store.engine.connect() as connection:
        count = (await connection.execute(sa.select(sa.func.count()).select_from(users))).scalar()
    assert count == 1
    await client.aclose()


async def test_unknown_routes_and_methods_answer_json(server: RunningServer) -> None:
    async with server.client() as client:
        missing = await client.get("/api/nothing-here")
        wrong_method = await client.get("/api/auth/login")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not-found"
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"] == "method-not-allowed"


async def test_security_headers_on_every_response(server: RunningServer) -> None:
    async with server.client() as client:
        for path in ("/", "/static/app.css", "/api/me", "/healthz", "/nope"):
            headers = (await client.get(path)).headers
            csp = headers["content-security-policy"]
            for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
                assert directive in csp, (path, csp)
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["referrer-policy"] == "no-referrer"
            assert "strict-transport-security" not in headers


async def test_https_deployment_gets_hsts_and_host_prefixed_cookie(config: Config) -> None:
    https_config = replace(config, public_url="https://preceptor.example.org")
    app = create_app(https_config, passwords=FAST_PASSWORDS)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=https_config.public_url) as c:
        response = await c.get("/healthz")
    assert response.headers["strict-transport-security"].startswith("max-age=")
    assert https_config.session_cookie_name == "__Host-preceptor_session"
