"""The operator's commands, run as a person would run them."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from server import cli
from server.config import Config
from server.infra.roles import Role
from signaling import Join, Welcome
from tests.rooms.client import signaling
from tests.support import running_server


def preceptor(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRECEPTOR_DATA_DIR": str(tmp_path / "data")}
    env.pop("PRECEPTOR_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.mark.timeout(180)
def test_migrate_create_assign_disable_verify(tmp_path: Path) -> None:
    assert preceptor(tmp_path, "migrate").returncode == 0
    assert (tmp_path / "data" / "preceptor.db").exists()
    made = preceptor(
        tmp_path,
        "create-user",
        "--email",
        "sup@example.org",
        "--name",
        "Sam Sup",
        "--role",
        "supervisor",
        "--password",
        "long-enough-pw",
    )
    assert made.returncode == 0, made.stderr
    supervisor_id = made.stdout.strip()
    assert len(supervisor_id) == 32
    trainee = preceptor(
        tmp_path,
        "create-user",
        "--email",
        "t@example.org",
        "--name",
        "Tia",
        "--role",
        "trainee",
        "--password",
        "long-enough-pw",
    )
    trainee_id = trainee.stdout.strip()
    assigned = preceptor(tmp_path, "assign", "--supervisor", supervisor_id, "--trainee", trainee_id)
    assert assigned.returncode == 0, assigned.stderr
    backwards = preceptor(
        tmp_path, "assign", "--supervisor", trainee_id, "--trainee", supervisor_id
    )
    assert backwards.returncode == 2
    assert "is not a supervisor" in backwards.stderr
    duplicate = preceptor(
        tmp_path,
        "create-user",
        "--email",
        "SUP@example.org",
        "--name",
        "Again",
        "--role",
        "mentor",
        "--password",
        "long-enough-pw",
    )
    assert duplicate.returncode == 2
    assert "exists" in duplicate.stderr
    assert preceptor(tmp_path, "disable-user", trainee_id).returncode == 0
    listing = preceptor(tmp_path, "list-users").stdout
    assert "t@example.org" in listing
    assert "(disabled)" in listing
    verified = preceptor(tmp_path, "verify-audit")
    assert verified.returncode == 0
    assert "intact: 4 events" in verified.stdout


def test_bad_configuration_is_named(tmp_path: Path) -> None:
    env = {**os.environ, "PRECEPTOR_DATABASE_URL": "mysql://nope"}
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "migrate"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "PRECEPTOR_DATABASE_URL" in result.stderr


@pytest.mark.redis
async def test_disabling_from_the_cli_closes_open_sockets_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI is another process than the servers: it reaches their sockets over Redis
    (without it they close only at the hub's 30 s re-check)."""
    config = Config(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/preceptor.db",
        redis_url="redis://127.0.0.1:6379/0",
        secret_key="test-secret-key-0123456789",
    )
    for name, value in {
        "PRECEPTOR_DATA_DIR": str(tmp_path),
        "PRECEPTOR_DATABASE_URL": config.database_url,
        "PRECEPTOR_REDIS_URL": "redis://127.0.0.1:6379/0",
    }.items():
        monkeypatch.setenv(name, value)
    async with running_server(config) as server:
        mentor = await server.user(Role.MENTOR)
        http = await server.signed_in(mentor)
        created = await http.post("/api/sessions", json={"title": "Disabled mid-call"})
        assert created.status_code == 201, created.text
        async with signaling(server, created.json()["id"], http) as socket:
            await socket.send(Join())
            await socket.expect(Welcome)
            assert await asyncio.to_thread(cli.main, ["disable-user", mentor.id]) == 0
            started = time.monotonic()
            assert await socket.closed(timeout=2.0) == 4401
            assert time.monotonic() - started < 2.0
        await http.aclose()
