"""The reads behind every signed-in request and socket handshake (issue 8: a burst of joins),
on SQLite and PostgreSQL: the sign-in with its account (and a supervisor's trainees) and the
socket's session in one step; reads asked for together answered together, each seeing what was
written before it was asked; the last use of sign-ins written together, in the background."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from server.infra.roles import Role
from server.infra.storage import Store
from server.infra.storage.schema import login_sessions


async def _user(store: Store, email: str, role: Role) -> str:
    user = await store.users.create(email=email, name=email, role=role, password_hash="h")
    return user.id


async def test_a_sign_in_is_read_with_its_account_and_the_sockets_session(store: Store) -> None:
    supervisor = await _user(store, "s@example.org", Role.SUPERVISOR)
    mentor = await _user(store, "m@example.org", Role.MENTOR)
    trainees = [await _user(store, f"t{i}@example.org", Role.TRAINEE) for i in range(2)]
    for trainee in trainees:
        await store.users.assign(supervisor, trainee)
    session = await store.sessions.create(
        title="Ward round",
        mentor_id=mentor,
        trainee_ids=trainees,
        media_mode="direct",
        scheduled_for=None,
    )
    _, login = await store.login_sessions.open(supervisor, now=1000.0, ip=None, user_agent=None)

    found, read = await store.sign_ins.resolve_with_session(
        login.token_hash, session.id, now=1001.0
    )
    assert found is not None
    assert found.login.token_hash == login.token_hash
    assert found.login.csrf_token == login.csrf_token
    assert found.account is not None
    assert (found.account.id, found.account.role) == (supervisor, Role.SUPERVISOR)
    assert found.follows == frozenset(trainees)
    assert read == await store.sessions.get(session.id)

    assert await store.sign_ins.resolve_with_session("nobody", session.id, now=1001.0) == (
        None,
        read,
    )
    found, missing = await store.sign_ins.resolve_with_session(
        login.token_hash, "no-such-session", now=1001.0
    )
    assert found is not None
    assert missing is None
    # A disabled account is read as such (the HTTP sign-in refuses it) ...
    await store.users.set_disabled(supervisor, True)
    again = await store.sign_ins.resolve(login.token_hash, now=1002.0)
    assert again is None or (again.account is not None and again.account.disabled)
    # ... and an ended sign-in is not read at all.
    await store.login_sessions.revoke(login.token_hash, now=1003.0)
    assert await store.sign_ins.resolve(login.token_hash, now=1004.0) is None


async def test_reads_asked_for_together_each_see_what_was_written_before(store: Store) -> None:
    mentor = await _user(store, "m@example.org", Role.MENTOR)

    async def create_then_read(i: int) -> None:
        made = await store.sessions.create(
            title=f"s{i}", mentor_id=mentor, trainee_ids=[], media_mode="direct", scheduled_for=None
        )
        got = await store.sessions.get(made.id)
        assert got is not None
        assert got.title == f"s{i}"

    # Writes and reads interleaved: each read is batched with others, and must still see the
    # write its caller finished before asking.
    await asyncio.gather(*(create_then_read(i) for i in range(40)))
    reads = await asyncio.gather(*(store.sessions.get(f"missing-{i}") for i in range(40)))
    assert reads == [None] * 40


async def test_a_burst_of_sign_ins_back_after_a_minute_is_read_and_their_use_written(
    store: Store,
) -> None:
    """100 people back after more than a minute, at once: each is signed in, none waits for
    the write of its last use, and every use is written (before: 100 write transactions queued
    on SQLite's write lock, and those past its busy timeout failed the handshake)."""
    people = [await _user(store, f"p{i}@example.org", Role.TRAINEE) for i in range(100)]
    logins = [
        (await store.login_sessions.open(p, now=1000.0, ip=None, user_agent=None))[1]
        for p in people
    ]
    found = await asyncio.gather(
        *(store.sign_ins.resolve(login.token_hash, now=1100.0) for login in logins)
    )
    assert all(f is not None and f.login.last_seen_at == 1100.0 for f in found)
    await store.login_sessions.close()  # the uses noted so far are written
    async with store.engine.connect() as connection:
        seen = (await connection.execute(sa.select(login_sessions.c.last_seen_at))).scalars()
        assert set(seen) == {1100.0}
    # A use noted and not yet written counts already: the idle clock runs from it.
    again = await store.sign_ins.resolve(logins[0].token_hash, now=1100.0 + 1799.0)
    assert again is not None
