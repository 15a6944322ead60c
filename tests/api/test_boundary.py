"""The HTTP boundary as a client meets it: hostile bodies get a 4xx with a reason, every response
carries the security headers (500s too), API answers are never cached, a page of another site
cannot post, and an unexpected error is logged once, without what the client sent."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from server.config import Config
from server.infra.logs import configure_logging
from server.infra.roles import Role
from tests.support import RunningServer, Scene, running_server, wait_for

SECURITY_HEADERS = {
    "content-security-policy",
    "x-content-type-options",
    "referrer-policy",
    "x-frame-options",
}
JSON = {"Content-Type": "application/json"}
NOT_UTF8 = b"\xff\xfe\xed\xa0\x80"


@contextlib.contextmanager
def captured_logs() -> Iterator[Callable[[], list[str]]]:
    """The server's log as configured for production (JSON lines), written to a buffer instead
    of standard error. The test's own HTTP client (httpx) logs URLs; it is not the server."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    client_log = logging.getLogger("httpx")
    client_level = client_log.level
    configure_logging("INFO")
    buffer = io.StringIO()
    handler = root.handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buffer)
    client_log.setLevel(logging.WARNING)
    try:
        yield lambda: [line for line in buffer.getvalue().splitlines() if line.strip()]
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        client_log.setLevel(client_level)
        logging.getLogger("uvicorn.access").disabled = False


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[str]]]:
    with captured_logs() as lines:
        yield lines


def assert_secured(response: httpx.Response) -> None:
    missing = SECURITY_HEADERS - {name.lower() for name in response.headers}
    assert not missing, f"{response.status_code} lacks {missing}"


async def test_invalid_utf8_in_a_json_string_is_a_400_with_a_reason(scene: Scene) -> None:
    server = scene.server
    bodies = {
        "/api/auth/login": b'{"email": "a@example.org", "password": "' + NOT_UTF8 + b'"}',
        "/api/invites/not-a-token/redeem": b'{"display_name": "' + NOT_UTF8 + b'"}',
    }
    async with server.client() as anonymous:
        for path, body in bodies.items():
            answer = await anonymous.post(path, content=body, headers=JSON)
            assert answer.status_code == 400, (path, answer.text)
            assert answer.json()["error"] == "bad-json"
            assert "UTF-8" in answer.json()["message"]
            assert_secured(answer)
    answer = await scene.mentor_http.post(
        "/api/sessions", content=b'{"title": "' + NOT_UTF8 + b'"}', headers=JSON
    )
    assert answer.status_code == 400, answer.text
    assert "UTF-8" in answer.json()["message"]


async def test_a_template_nested_ten_thousand_deep_or_not_utf8_is_refused(
    server: RunningServer,
) -> None:
    admin = await server.signed_in(await server.user(Role.ADMIN))
    deep = b'{"id": "x", "extra": ' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    answer = await admin.post("/api/admin/instruments", content=deep, headers=JSON)
    assert answer.status_code == 422, answer.text
    assert "nests too deeply" in answer.json()["message"]
    assert_secured(answer)
    bad = b'{"id": "' + NOT_UTF8 + b'"}'
    answer = await admin.post("/api/admin/instruments", content=bad, headers=JSON)
    assert answer.status_code == 422, answer.text
    assert "UTF-8" in answer.json()["message"]
    await admin.aclose()


async def test_an_unexpected_error_is_a_json_500_with_every_header_logged_once(
    scene: Scene, log_lines: Callable[[], list[str]]
) -> None:
    from sqlalchemy import text

    async with scene.server.services.store.engine.begin() as connection:
        await connection.execute(text("ALTER TABLE sessions RENAME TO sessions_elsewhere"))
    title = "Mrs Example, 4 Privet Drive, chest pain"
    answer = await scene.mentor_http.post("/api/sessions", json={"title": title})
    assert answer.status_code == 500
    assert answer.json()["error"] == "internal"
    assert_secured(answer)
    assert answer.headers["cache-control"] == "no-store"

    async def logged() -> bool:
        return any('"unhandled error"' in line for line in log_lines())

    await wait_for(logged)
    errors = [line for line in log_lines() if json.loads(line)["level"] == "error"]
    assert len(errors) == 1, errors
    assert "sqlalchemy" in json.loads(errors[0])["exc"]
    assert all(title not in line and "Privet" not in line for line in log_lines())


async def test_every_api_response_says_no_store(scene: Scene, server: RunningServer) -> None:
    sid = scene.session_id
    await server.services.store.sessions.mark_live(sid, now=1_795_300_000.0)
    admin = await server.signed_in(await server.user(Role.ADMIN))
    mentor = scene.mentor_http
    answers = [
        await mentor.get("/api/sessions"),
        await mentor.get(f"/api/sessions/{sid}"),
        await mentor.get(f"/api/sessions/{sid}/invites"),
        await mentor.post(f"/api/sessions/{sid}/invites", json={"name": "Ann"}),
        await mentor.post(f"/api/sessions/{sid}/marks", json={"label": "red flag"}),
        await mentor.get(f"/api/sessions/{sid}/marks"),
        await admin.get("/api/admin/users"),
        await mentor.get("/api/nothing-here"),
    ]
    for answer in answers:
        assert answer.status_code < 500, answer.text
        assert answer.headers.get("cache-control") == "no-store", answer.request.url
        assert_secured(answer)
    await admin.aclose()


async def test_a_post_from_another_site_is_refused(scene: Scene) -> None:
    server = scene.server
    mentor = scene.mentor_http
    evil = {"Origin": "https://evil.example"}
    refused = await mentor.post("/api/sessions", json={"title": "Forged"}, headers=evil)
    assert refused.status_code == 403
    assert refused.json()["error"] == "bad-origin"
    assert_secured(refused)
    async with server.client() as anonymous:
        login = await anonymous.post(
            "/api/auth/login",
            json={"email": scene.mentor.email, "password": "s3cret-pass!"},
            headers={"Origin": "null"},
        )
    assert login.status_code == 403
    ours = await mentor.post(
        "/api/sessions", json={"title": "Ours"}, headers={"Origin": server.config.public_url}
    )
    assert ours.status_code == 201, ours.text
    # Without an Origin (the CLI, scripts) the CSRF token still decides.
    no_token = await mentor.post(
        "/api/sessions", json={"title": "No token"}, headers={"X-CSRF-Token": "wrong"}
    )
    assert no_token.status_code == 403
    assert no_token.json()["error"] != "bad-origin"


@pytest.mark.parametrize("path", ["/join//{t}", "/JOIN/{t}", "/api/Invites/{t}", "/join/%2e/{t}"])
async def test_no_spelling_of_an_invite_path_puts_the_token_in_the_log(
    server: RunningServer, log_lines: Callable[[], list[str]], path: str
) -> None:
    token = "Tk9sEcretInv1teT0kenXyz"
    async with server.client() as client:
        await client.get(path.format(t=token))
        await client.post(path.format(t=token) + "/redeem", json={})
        await client.get("/healthz")

    async def logged() -> bool:
        return sum('"preceptor.access"' in line for line in log_lines()) >= 3

    await wait_for(logged)
    assert not [line for line in log_lines() if token in line]


async def test_a_nul_character_in_any_text_is_refused_on_every_database(
    database_url: str, tmp_path: Path
) -> None:
    """PostgreSQL's text cannot hold U+0000: a title or an e-mail carrying one was a 500 there."""
    config = Config(data_dir=tmp_path, database_url=database_url, secret_key="k" * 32)
    async with running_server(config) as server:
        anonymous = server.client()
        answer = await anonymous.post(
            "/api/auth/login", json={"email": "a\u0000@example.org", "password": "x"}
        )
        assert answer.status_code == 422, answer.text
        assert "NUL" in answer.json()["message"]
        mentor = await server.signed_in(await server.user(Role.MENTOR))
        answer = await mentor.post("/api/sessions", json={"title": "Chest\u0000pain"})
        assert answer.status_code == 422, answer.text
        # A backslash typed before "u0000" is text like any other.
        answer = await mentor.post("/api/sessions", json={"title": "C:\\u0000"})
        assert answer.status_code == 201, answer.text
        assert answer.json()["title"] == "C:\\u0000"
        await mentor.aclose()
        await anonymous.aclose()
