"""A socket's handshake reads who is connecting (the sign-in and its account) and the session in
one step, off the asynchronous engine's per-call round trips (issue 8: a burst of 100 joins
spent most of the server's time in those trips); and still refuses a sign-in that ended or an
account disabled a moment before."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from server.infra.roles import Role
from signaling import Join, Welcome
from signaling.close_codes import CLOSE_NOT_AUTHENTICATED
from tests.rooms.client import signaling
from tests.support import RunningServer

_HANDSHAKE_TABLES = ("login_sessions", "users", "sessions")


async def test_a_handshake_reads_the_sign_in_and_the_session_in_one_step(
    server: RunningServer,
) -> None:
    mentor = await server.user(Role.MENTOR)
    http = await server.signed_in(mentor)
    try:
        created = await http.post("/api/sessions", json={"title": "Night shift"})
        assert created.status_code == 201, created.text
        server.services.principals.clear()  # nothing kept from the requests above
        through_engine: list[str] = []

        def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                through_engine.append(statement)

        engine = server.services.store.engine.sync_engine
        sa.event.listen(engine, "before_cursor_execute", seen)
        try:
            async with signaling(server, created.json()["id"], http) as client:
                await client.send(Join())
                await client.expect(Welcome)
        finally:
            sa.event.remove(engine, "before_cursor_execute", seen)
        handshake = [
            s
            for s in through_engine
            if any(f" {t}" in s.split("WHERE")[0] for t in _HANDSHAKE_TABLES)
        ]
        assert handshake == []
    finally:
        await http.aclose()


async def test_a_sign_in_ended_or_an_account_disabled_is_refused_at_once(
    server: RunningServer,
) -> None:
    mentor = await server.user(Role.MENTOR)
    http = await server.signed_in(mentor)
    other = await server.signed_in(mentor)
    try:
        created = await http.post("/api/sessions", json={"title": "Night shift"})
        assert created.status_code == 201, created.text
        session_id = created.json()["id"]
        # Both sign-ins were just looked up (and kept a moment): what ends them still counts.
        async with signaling(server, session_id, http) as client:
            await client.send(Join())
            await client.expect(Welcome)
        kept = dict(http.cookies.items())
        assert (await http.post("/api/auth/logout")).status_code in (200, 204)
        for name, value in kept.items():  # the cookie of the ended sign-in, sent anyway
            http.cookies.set(name, value)
        async with signaling(server, session_id, http) as client:
            assert await client.closed() == CLOSE_NOT_AUTHENTICATED
        assert (await other.get("/api/me")).status_code == 200
        await server.services.accounts.set_disabled(mentor.id, True, actor_id=None)
        async with signaling(server, session_id, other) as client:
            assert await client.closed() == CLOSE_NOT_AUTHENTICATED
    finally:
        await http.aclose()
        await other.aclose()
