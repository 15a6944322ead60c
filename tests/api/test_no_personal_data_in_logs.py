"""What people write (notes, feedback, e-mail addresses, marks) never reaches the logs, not even
when the database refuses it and the error is logged (on SQLite and PostgreSQL alike)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from server.config import Config
from server.infra.roles import Role
from tests.api.test_boundary import captured_logs
from tests.notes.pyclient import yclient
from tests.support import RunningServer, running_server, wait_for

EMAIL = "jo.bloggs.privately@example.org"
NOTES = "Patient disclosed HIV status during history"
FEEDBACK = "Told Mrs Testcase her biopsy result too bluntly"
MARK = "Mentioned the neighbour's overdose"
PRIVATE = (EMAIL, "jo.bloggs", NOTES, "HIV status", FEEDBACK, "biopsy", MARK, "overdose")


async def refuse_writes(server: RunningServer, table: str) -> None:
    """From now on every insert into ``table`` fails inside the database, whose error then
    names the row it refused (PostgreSQL's ``DETAIL: Failing row contains (…)``)."""
    engine = server.services.store.engine
    async with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            statement = (
                f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
                "BEGIN SELECT RAISE(ABORT, 'writes refused'); END"
            )
        else:
            statement = f"ALTER TABLE {table} ADD CONSTRAINT refuse_writes CHECK (false) NOT VALID"
        await connection.execute(sa.text(statement))


def errors_logged(lines: Callable[[], list[str]]) -> list[str]:
    return [line for line in lines() if json.loads(line)["level"] == "error"]


async def test_database_errors_never_log_what_people_wrote(
    database_url: str, tmp_path: Path
) -> None:
    config = Config(
        data_dir=tmp_path, database_url=database_url, secret_key="test-secret-key-0123456789"
    )
    async with running_server(config) as server:
        admin = await server.signed_in(await server.user(Role.ADMIN))
        mentor = await server.signed_in(await server.user(Role.MENTOR))
        trainee = await server.user(Role.TRAINEE)
        session = await mentor.post(
            "/api/sessions", json={"title": "Ward round", "trainee_ids": [trainee.id]}
        )
        sid = session.json()["id"]
        await server.services.store.sessions.mark_live(sid, now=1_795_300_000.0)
        for table in ("marks", "feedback", "notes_updates"):
            await refuse_writes(server, table)

        with captured_logs() as lines:
            marked = await mentor.post(f"/api/sessions/{sid}/marks", json={"label": MARK})
            assert marked.status_code >= 500
            drafted = await mentor.post(
                f"/api/sessions/{sid}/feedback",
                json={
                    "instrument_id": "mini-cex-abim",
                    "trainee_id": trainee.id,
                    "responses": {"comments": FEEDBACK},
                },
            )
            assert drafted.status_code >= 500
            async with yclient(server, sid, mentor) as notes:
                before = len(errors_logged(lines))
                await notes.type(NOTES)

                async def notes_error_logged() -> bool:
                    return len(errors_logged(lines)) > before

                await wait_for(notes_error_logged)

            # The sign-in looks the e-mail address up in a table that is gone.
            async with server.services.store.engine.begin() as connection:
                await connection.execute(sa.text("ALTER TABLE users RENAME TO users_elsewhere"))
            async with server.client() as anonymous:
                login = await anonymous.post(
                    "/api/auth/login", json={"email": EMAIL, "password": "pw-12345678"}
                )
            assert login.status_code == 500

            logged = errors_logged(lines)
            assert len(logged) >= 4, logged
            leaks = [line for line in lines() for text in PRIVATE if text in line]
            assert not leaks, leaks
        await admin.aclose()
        await mentor.aclose()
