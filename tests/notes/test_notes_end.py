"""Ending a session reaches the notes sockets already open: they close (4410) on every node,
and from then on only the mentor changes the notes, each change on record (DESIGN.md §5)."""

from __future__ import annotations

import time

import httpx
import pytest

from server.infra.roles import Role
from tests.notes.pyclient import yclient
from tests.support import RunningServer, wait_for

CLOSE_ENDED = 4410
CLOSE_NOT_ALLOWED = 4403


async def trainee_session(
    server: RunningServer,
) -> tuple[httpx.AsyncClient, httpx.AsyncClient, str]:
    mentor = await server.signed_in(await server.user(Role.MENTOR))
    trainee_user = await server.user(Role.TRAINEE)
    trainee = await server.signed_in(trainee_user)
    created = await mentor.post(
        "/api/sessions", json={"title": "Airway", "trainee_ids": [trainee_user.id]}
    )
    assert created.status_code == 201, created.text
    return mentor, trainee, created.json()["id"]


async def audit_count(server: RunningServer, action: str) -> int:
    return [e.action for e in await server.services.store.audit.recent(200)].count(action)


async def test_ending_closes_open_notes_sockets_and_only_the_mentor_writes_after(
    server: RunningServer,
) -> None:
    mentor_http, trainee_http, session_id = await trainee_session(server)
    async with (
        yclient(server, session_id, trainee_http) as trainee,
        yclient(server, session_id, mentor_http) as mentor,
    ):
        await trainee.type("trainee during. ")
        await mentor.wait_text("trainee during. ")
        ended = await mentor_http.post(f"/api/sessions/{session_id}/end")
        assert ended.status_code == 200, ended.text
        # Both sockets opened during the session are closed by the end, not left writable.
        assert await trainee.closed() == CLOSE_ENDED
        assert await mentor.closed() == CLOSE_ENDED
    # The trainee may still read the notes, but a change is refused and not kept.
    async with yclient(server, session_id, trainee_http) as trainee:
        await trainee.wait_text("trainee during. ")
        await trainee.type("sneaked in after")
        assert await trainee.closed() == CLOSE_NOT_ALLOWED
    # The mentor amends, and each amendment is audited.
    async with yclient(server, session_id, mentor_http) as mentor:
        await mentor.wait_text("trainee during. ")
        await mentor.type("amended. ")
        await mentor.type("again.")
        async with yclient(server, session_id, mentor_http) as reader:
            await reader.wait_text("trainee during. amended. again.")

    async def audited_twice() -> bool:
        return await audit_count(server, "room.notes.edited-after-end") == 2

    await wait_for(audited_twice)
    text = (await mentor_http.get(f"/api/sessions/{session_id}/notes")).json()["text"]
    assert text == "trainee during. amended. again."


@pytest.mark.postgres
@pytest.mark.redis
async def test_ending_on_one_node_closes_notes_sockets_on_the_other(
    nodes: tuple[RunningServer, RunningServer],
) -> None:
    a, b = nodes
    mentor_http, trainee_http, session_id = await trainee_session(a)
    async with yclient(b, session_id, trainee_http) as on_b:
        await on_b.type("on B")
        ended = await mentor_http.post(f"/api/sessions/{session_id}/end")
        assert ended.status_code == 200, ended.text
        assert await on_b.closed() == CLOSE_ENDED


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_node_that_missed_the_end_on_the_bus_learns_it_from_the_store(
    nodes: tuple[RunningServer, RunningServer],
) -> None:
    a, b = nodes
    _mentor_http, trainee_http, session_id = await trainee_session(a)
    async with yclient(b, session_id, trainee_http) as on_b:
        await on_b.type("on B")
        # Ended in the store, never announced on the bus (as if Redis dropped the message).
        assert await a.services.store.sessions.end(session_id, now=time.time())
        assert await on_b.closed() == CLOSE_ENDED
