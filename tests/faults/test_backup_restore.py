"""Backups, tested (issue 13): docs/deploy.md §6 followed step by step with the real tools
(pg_dump, dropdb/createdb, pg_restore, rsync, `preceptor migrate`, `preceptor verify-audit`).
A session with notes, chat, a mark and submitted feedback is backed up, the database and the
data directory are wiped, both are restored, and the record reads back whole with its audit
chain intact."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from server.config import Config
from server.infra.roles import Role
from signaling import Chat, ChatPosted, Join, Welcome
from tests.notes.pyclient import yclient
from tests.rooms.client import signaling
from tests.support import RunningServer, postgres_database, running_server

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(120)]

ANSWERS = {
    "setting": "inpatient",
    "complexity": "moderate",
    "time_observing_min": 15,
    "time_feedback_min": 5,
    "comments": "Clear history; check for red flags earlier.",
    "medical_interviewing": 6,
    "physical_examination": 5,
    "humanistic_professionalism": 7,
    "clinical_judgment": 5,
    "counseling": 6,
    "organization_efficiency": 5,
    "overall_clinical_competence": 6,
}


def run(*command: str, env: dict[str, str]) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, (command, done.stdout, done.stderr)
    return done.stdout


def operator_env(config: Config) -> dict[str, str]:
    """The operator's shell: libpq's defaults name the database server (the docs' commands give
    only the database's name), and the node's environment file for `preceptor`."""
    url = urlsplit(config.database_url)
    return {
        **os.environ,
        "PGHOST": url.hostname or "127.0.0.1",
        "PGPORT": str(url.port or 5432),
        "PGUSER": url.username or "root",
        "PRECEPTOR_DATABASE_URL": config.database_url,
        "PRECEPTOR_DATA_DIR": str(config.data_dir),
        "PRECEPTOR_SECRET_KEY": config.secret_key,
    }


async def a_session_worth_keeping(server: RunningServer) -> str:
    mentor = await server.user(Role.MENTOR)
    trainee = await server.user(Role.TRAINEE)
    mentor_http = await server.signed_in(mentor)
    created = await mentor_http.post(
        "/api/sessions",
        json={"title": "Backup drill", "trainee_ids": [trainee.id], "media_mode": "direct"},
    )
    assert created.status_code == 201, created.text
    sid: str = created.json()["id"]
    async with signaling(server, sid, mentor_http) as room:
        await room.send(Join())
        await room.expect(Welcome)
        await room.send(Chat(text="Start with the presenting complaint."))
        await room.expect(ChatPosted)
        async with yclient(server, sid, mentor_http) as notes:
            await notes.type("Chest pain, 2 h, radiating to the left arm. ")
            await notes.type("ECG ordered.")
        mark = await mentor_http.post(f"/api/sessions/{sid}/marks", json={"label": "red flags"})
        assert mark.status_code == 201, mark.text
    draft = await mentor_http.post(
        f"/api/sessions/{sid}/feedback",
        json={
            "instrument_id": "mini-cex-abim",
            "trainee_id": trainee.id,
            "responses": ANSWERS,
            "evidence": {"clinical_judgment": [mark.json()["id"]]},
        },
    )
    assert draft.status_code == 201, draft.text
    submitted = await mentor_http.post(f"/api/feedback/{draft.json()['id']}/submit")
    assert submitted.status_code == 200, submitted.text
    await server.services.records.flush()
    server.mentor_http = mentor_http  # type: ignore[attr-defined]
    return sid


async def the_record(server: RunningServer, sid: str, mentor_email: str) -> dict[str, Any]:
    client = server.client()
    login = await client.post(
        "/api/auth/login", json={"email": mentor_email, "password": "s3cret-pass!"}
    )
    assert login.status_code == 200, login.text
    response = await client.get(f"/api/sessions/{sid}/record")
    await client.aclose()
    assert response.status_code == 200, response.text
    record: dict[str, Any] = response.json()
    # Reading the record is itself audited: the views differ, nothing else may.
    record["timeline"] = [e for e in record["timeline"] if e.get("action") != "record.viewed"]
    return record


async def test_back_up_wipe_restore_and_the_record_is_whole(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    backups = tmp_path / "backup"
    data_dir.mkdir()
    backups.mkdir()
    async with postgres_database() as url:
        config = Config(
            data_dir=data_dir, database_url=url, secret_key="backup-drill-key-0123456789"
        )
        env = operator_env(config)
        database = urlsplit(url).path.lstrip("/")
        (data_dir / "recordings").mkdir()
        (data_dir / "recordings" / "kept.bin").write_bytes(os.urandom(4096))
        async with running_server(config) as server:
            sid = await a_session_worth_keeping(server)
            me = await server.mentor_http.get("/api/me")  # type: ignore[attr-defined]
            email = me.json()["user"]["email"]
            before = await the_record(server, sid, email)
            await server.mentor_http.aclose()  # type: ignore[attr-defined]
        assert "ECG ordered." in before["notes"]
        assert before["marks"]
        assert before["feedback"]

        # 1. PostgreSQL, 2. the data directory (docs/deploy.md §6).
        dump = backups / "preceptor.dump"
        run("pg_dump", "--format=custom", f"--file={dump}", database, env=env)
        run("rsync", "-a", f"{data_dir}/", f"{backups}/data/", env=env)

        # Everything is lost.
        role = env["PGUSER"]  # the docs' `preceptor` role; here, the test database's owner
        run("dropdb", database, env=env)
        run("createdb", f"--owner={role}", database, env=env)
        shutil.rmtree(data_dir)

        # Restore: the database, the data directory, migrate, verify the audit chain.
        role = env["PGUSER"]
        run(
            "pg_restore", f"--dbname={database}", "--no-owner", f"--role={role}", str(dump), env=env
        )
        run("rsync", "-a", f"{backups}/data/", f"{data_dir}/", env=env)
        run(".venv/bin/preceptor", "migrate", env=env)
        verified = run(".venv/bin/preceptor", "verify-audit", env=env)
        assert "intact" in verified, verified

        async with running_server(config) as server:
            after = await the_record(server, sid, email)
        assert after == before
        assert (data_dir / "recordings" / "kept.bin").read_bytes() == (
            backups / "data" / "recordings" / "kept.bin"
        ).read_bytes()
        print(
            f"\nrestored: {verified.strip()}; record identical ({len(before['timeline'])} events)"
        )
