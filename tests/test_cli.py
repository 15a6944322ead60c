"""The operator's commands, run as a person would run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


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
