"""Sign-in and invite-link throttling on the real server: atomic under parallel guesses, per real
client behind a trusted proxy, silent about disabled accounts, and safe with long e-mails."""

from __future__ import annotations

import asyncio
import ipaddress
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from server.config import Config
from server.infra.roles import Role
from tests.support import RunningServer, running_server

WRONG = "guess-guess-guess"


def _behind_proxy(config: Config, *proxies: str) -> Config:
    return replace(config, trusted_proxies=tuple(ipaddress.ip_network(p) for p in proxies))


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def throttled_server(
    request: pytest.FixtureRequest, config: Config
) -> AsyncIterator[RunningServer]:
    """The sign-in throttle in this process's memory, or shared through the machine's Redis.
    Behind a trusted proxy, so that each test speaks from its own address (see ``_client``):
    the Redis counts outlive the test and must not lock 127.0.0.1 out for other tests."""
    redis_url = "redis://127.0.0.1:6379/0" if request.param == "redis" else None
    async with running_server(
        replace(_behind_proxy(config, "127.0.0.1/32"), redis_url=redis_url)
    ) as running:
        yield running


def _client(server: RunningServer) -> httpx.AsyncClient:
    """A client at an address of its own (RFC 3849 documentation prefix)."""
    return server.client(headers={"X-Forwarded-For": f"2001:db8::{uuid.uuid4().hex[:4]}"})


async def _login(
    client: httpx.AsyncClient, email: str, password: str, **kw: object
) -> httpx.Response:
    return await client.post(
        "/api/auth/login",
        json={"email": email, "password": password},
        **kw,  # type: ignore[arg-type]
    )


async def _audit_actions(server: RunningServer) -> Counter[str]:
    return Counter(e.action for e in await server.services.store.audit.recent(1000))


async def test_parallel_guesses_are_counted_before_the_password_is_checked(
    throttled_server: RunningServer,
) -> None:
    server = throttled_server
    user = await server.user(Role.MENTOR)
    limit = server.config.login_attempts_per_account
    async with _client(server) as client:
        answers = await asyncio.gather(*(_login(client, user.email, WRONG) for _ in range(30)))
    statuses = Counter(r.status_code for r in answers)
    assert statuses == {401: limit, 429: 30 - limit}, statuses
    assert (await _audit_actions(server))["login.failed"] == limit
    for refused in (r for r in answers if r.status_code == 429):
        assert int(refused.headers["retry-after"]) > 0
        assert refused.json()["error"] == "too-many-attempts"


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(
    config: Config,
) -> None:
    async with running_server(_behind_proxy(config, "127.0.0.1/32", "10.0.0.0/8")) as server:
        user = await server.user(Role.TRAINEE)
        per_ip = server.config.login_attempts_per_ip
        attacker = {"X-Forwarded-For": "203.0.113.9, 198.51.100.7, 10.1.2.3"}
        colleague = {"X-Forwarded-For": "198.51.100.8"}
        async with server.client() as client:
            for i in range(per_ip):
                r = await _login(client, f"spray{i}@example.org", WRONG, headers=attacker)
                assert r.status_code == 401, r.text
            blocked = await _login(client, user.email, "s3cret-pass!", headers=attacker)
            assert blocked.status_code == 429
            # The left-most entry is whatever the attacker wrote: changing it changes nothing.
            spoofed = {"X-Forwarded-For": "192.0.2.1, 198.51.100.7"}
            assert (
                await _login(client, user.email, "s3cret-pass!", headers=spoofed)
            ).status_code == 429
            allowed = await _login(client, user.email, "s3cret-pass!", headers=colleague)
            assert allowed.status_code == 200, allowed.text
        events = await server.services.store.audit.recent(100)
        assert {e.ip for e in events if e.action == "login.failed"} == {"198.51.100.7"}
        assert next(e for e in events if e.action == "login").ip == "198.51.100.8"


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(config: Config) -> None:
    # The proxies trusted are elsewhere; this test client (127.0.0.1) is not one of them.
    untrusted = replace(_behind_proxy(config, "10.0.0.0/8"), login_attempts_per_ip=3)
    async with running_server(untrusted) as server:
        async with server.client() as client:
            for i in range(3):
                forged = {"X-Forwarded-For": f"198.51.100.{i + 1}"}
                r = await _login(client, f"spray{i}@example.org", WRONG, headers=forged)
                assert r.status_code == 401
            again = {"X-Forwarded-For": "198.51.100.99"}
            assert (await _login(client, "x@example.org", WRONG, headers=again)).status_code == 429
        events = await server.services.store.audit.recent(100)
        assert {e.ip for e in events if e.action.startswith("login.")} == {"127.0.0.1"}


async def test_a_disabled_account_answers_as_a_wrong_password_does(server: RunningServer) -> None:
    admin = await server.user(Role.ADMIN)
    disabled = await server.user(Role.TRAINEE)
    active = await server.user(Role.TRAINEE)
    await server.services.accounts.set_disabled(disabled.id, True, actor_id=admin.id)
    async with server.client() as client:
        baseline = await _login(client, active.email, WRONG)
        right = await _login(client, disabled.email, "s3cret-pass!")
        wrong = await _login(client, disabled.email, WRONG)
    assert baseline.status_code == right.status_code == wrong.status_code == 401
    assert baseline.json() == right.json() == wrong.json()
    assert "set-cookie" not in right.headers
    failed = [e for e in await server.services.store.audit.recent(10) if e.action == "login.failed"]
    assert [e.detail["reason"] for e in failed[:2]] == ["account-disabled", "account-disabled"]


async def test_a_long_email_at_sign_in_is_a_plain_refusal(
    database_url: str, tmp_path: Path, config: Config
) -> None:
    """Issue 8: a 201-320 character e-mail overflowed the audit row's target (500 on
    PostgreSQL). The audit keeps a keyed digest, never the typed address."""
    email = "a" * 240 + "@example.org"
    async with running_server(replace(config, database_url=database_url)) as server:
        async with server.client() as client:
            answers = [
                await _login(client, email, WRONG)
                for _ in range(server.config.login_attempts_per_account + 1)
            ]
        assert [r.status_code for r in answers[:-1]] == [401] * (len(answers) - 1)
        assert answers[-1].status_code == 429
        events = await server.services.store.audit.recent(100)
        logins = [e for e in events if e.action in {"login.failed", "login.throttled"}]
        assert len(logins) == len(answers)
        assert all(e.target and "@" not in e.target and len(e.target) <= 200 for e in logins)
        assert len({e.target for e in logins}) == 1


async def test_invite_links_are_rate_limited_per_address(config: Config) -> None:
    async with running_server(replace(config, invite_requests_per_minute=8)) as server:
        async with server.client() as client:
            looked_up = [await client.get(f"/api/invites/guess-{i}") for i in range(4)]
            redeemed = [
                await client.post(f"/api/invites/guess-{i}/redeem", json={}) for i in range(40)
            ]
        assert [r.status_code for r in looked_up] == [404] * 4
        statuses = [r.status_code for r in redeemed]
        assert statuses == [404] * 4 + [429] * 36, statuses
        refused = redeemed[-1]
        assert refused.json()["error"] == "too-many-requests"
        assert "try again" in refused.json()["message"]
        assert 0 < int(refused.headers["retry-after"]) <= 60
        async with server.client() as client:
            assert (await client.get("/api/invites/guess-x")).status_code == 429
        # Refusals beyond the limit cost no audit row each.
        assert (await _audit_actions(server))["invite.refused"] == 4


async def test_invite_limits_are_per_forwarded_client(config: Config) -> None:
    behind = replace(_behind_proxy(config, "127.0.0.1/32"), invite_requests_per_minute=3)
    async with running_server(behind) as server, server.client() as client:
        one = {"X-Forwarded-For": "198.51.100.1"}
        other = {"X-Forwarded-For": "198.51.100.2"}
        first = [(await client.get("/api/invites/nope", headers=one)).status_code for _ in range(4)]
        assert first == [404, 404, 404, 429]
        assert (await client.get("/api/invites/nope", headers=other)).status_code == 404


async def test_successful_sign_ins_do_not_use_up_the_address_budget(
    throttled_server: RunningServer,
) -> None:
    """Attempts are counted before the password is checked; a right one is taken back, so a
    clinic behind one address can sign in all day."""
    server = throttled_server
    user = await server.user(Role.MENTOR)
    async with _client(server) as client:
        for _ in range(server.config.login_attempts_per_ip + 5):
            assert (await _login(client, user.email, "s3cret-pass!")).status_code == 200
        for _ in range(server.config.login_attempts_per_account - 1):
            assert (await _login(client, user.email, WRONG)).status_code == 401
        assert (await _login(client, user.email, "s3cret-pass!")).status_code == 200


async def test_a_flood_of_refused_sign_ins_is_one_audit_row_with_its_count(
    server: RunningServer,
) -> None:
    """Issue 8, hole 7: each 429 wrote an audit row, so a guesser could grow the log at will."""
    user = await server.user(Role.TRAINEE)
    async with server.client() as client:
        answers = [await _login(client, user.email, WRONG) for _ in range(30)]
    refused = [r for r in answers if r.status_code == 429]
    assert len(refused) >= 20
    events = await server.services.store.audit.recent(200)
    throttled = [e for e in events if e.action == "login.throttled"]
    assert len(throttled) == 1
    assert int(throttled[0].detail["count"]) == 1  # the rest are summed into the next minute's row
