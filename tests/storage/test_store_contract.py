"""One contract for the store, run against SQLite and the machine's PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from server.infra.roles import Role
from server.infra.storage import DuplicateEmail, Store
from server.infra.storage.login_sessions import LoginSessionStore
from server.infra.storage.schema import audit_events, audit_head


async def test_migrating_twice_is_harmless(store: Store) -> None:
    from server.infra.storage import migrate

    await migrate(store.engine)
    assert await store.ping()


async def test_users_are_found_by_email_case_insensitively(store: Store) -> None:
    created = await store.users.create(
        email=" Ada@Example.org ", name="Ada", role=Role.MENTOR, password_hash="h1"
    )
    found = await store.users.credentials("ada@example.ORG")
    assert found is not None
    assert found[0] == created
    assert found[1] == "h1"
    assert created.email == "ada@example.org"
    assert await store.users.get(created.id) == created
    assert await store.users.get("nobody") is None


async def test_duplicate_email_is_refused_and_first_account_kept(store: Store) -> None:
    first = await store.users.create(
        email="a@example.org", name="A", role=Role.MENTOR, password_hash="h"
    )
    with pytest.raises(DuplicateEmail):
        await store.users.create(
            email="A@example.org", name="B", role=Role.TRAINEE, password_hash="x"
        )
    assert await store.users.all() == [first]


async def test_disable_and_filter_by_role(store: Store) -> None:
    mentor = await store.users.create(
        email="m@example.org", name="M", role=Role.MENTOR, password_hash="h"
    )
    trainee = await store.users.create(
        email="t@example.org", name="T", role=Role.TRAINEE, password_hash="h"
    )
    assert await store.users.set_disabled(mentor.id, True)
    assert not await store.users.set_disabled("missing", True)
    assert [u.id for u in await store.users.all(Role.TRAINEE)] == [trainee.id]
    reloaded = await store.users.get(mentor.id)
    assert reloaded is not None
    assert reloaded.disabled


async def test_assignments(store: Store) -> None:
    sup = await store.users.create(
        email="s@example.org", name="S", role=Role.SUPERVISOR, password_hash="h"
    )
    t1 = await store.users.create(
        email="t1@example.org", name="T1", role=Role.TRAINEE, password_hash="h"
    )
    t2 = await store.users.create(
        email="t2@example.org", name="T2", role=Role.TRAINEE, password_hash="h"
    )
    assert await store.users.assign(sup.id, t1.id)
    assert not await store.users.assign(sup.id, t1.id)
    assert await store.users.assign(sup.id, t2.id)
    assert [u.id for u in await store.users.trainees_of(sup.id)] == [t1.id, t2.id]
    assert [u.id for u in await store.users.supervisors_of(t1.id)] == [sup.id]
    assert await store.users.unassign(sup.id, t1.id)
    assert not await store.users.unassign(sup.id, t1.id)
    assert [u.id for u in await store.users.trainees_of(sup.id)] == [t2.id]


async def test_login_session_timeouts_and_revocation(database_url: str) -> None:
    store = Store.open(database_url, idle_timeout_s=100, absolute_timeout_s=1000)
    from server.infra.storage import migrate

    await migrate(store.engine)
    try:
        user = await store.users.create(
            email="u@example.org", name="U", role=Role.TRAINEE, password_hash="h"
        )
        token, session = await store.login_sessions.open(
            user.id, now=10_000.0, ip="127.0.0.1", user_agent="test"
        )
        assert token not in session.token_hash
        assert (await store.login_sessions.resolve(token, now=10_070.0)) is not None
        # Active use keeps it alive past the idle window...
        for t in (10_150.0, 10_230.0, 10_310.0):
            assert (await store.login_sessions.resolve(token, now=t)) is not None
        # ...but idleness ends it,
        assert await store.login_sessions.resolve(token, now=10_500.0) is None
        token2, _ = await store.login_sessions.open(user.id, now=20_000.0, ip=None, user_agent=None)
        t = 20_000.0
        while t < 20_990.0:
            t += 90
            alive = await store.login_sessions.resolve(token2, now=t)
            assert (alive is not None) == (t < 21_000.0)
        # ...and so does the absolute limit, however active.
        assert await store.login_sessions.resolve(token2, now=21_001.0) is None
        token3, s3 = await store.login_sessions.open(
            user.id, now=30_000.0, ip=None, user_agent=None
        )
        token4, _ = await store.login_sessions.open(user.id, now=30_000.0, ip=None, user_agent=None)
        await store.login_sessions.revoke(s3.token_hash, now=30_001.0)
        assert await store.login_sessions.resolve(token3, now=30_002.0) is None
        assert await store.login_sessions.resolve(token4, now=30_002.0) is not None
        # Timed-out sessions are revoked too: 1, 2 and 4 (3 already was).
        assert await store.login_sessions.revoke_all(user.id, now=30_003.0) == 3
        assert await store.login_sessions.resolve(token4, now=30_004.0) is None
        assert await store.login_sessions.resolve("not-a-token", now=30_004.0) is None
    finally:
        await store.close()


class _ReadFinishingAfterWrites:
    """An engine whose reads return only after the sign-in uses noted so far are written: the
    order a busy server sees when a handshake's read overtakes the background write."""

    def __init__(self, engine: AsyncEngine, logins: LoginSessionStore) -> None:
        self._engine = engine
        self._logins = logins

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncIterator[_ReadFinishingAfterWrites._Connection]:
        async with self._engine.connect() as connection:
            yield self._Connection(connection, self._logins)

    class _Connection:
        def __init__(self, connection: AsyncConnection, logins: LoginSessionStore) -> None:
            self._connection = connection
            self._logins = logins

        async def execute(self, *args: Any) -> Any:
            result = await self._connection.execute(*args)
            await self._logins.close()
            return result


async def test_a_use_written_during_a_read_still_counts(database_url: str) -> None:
    store = Store.open(database_url, idle_timeout_s=100, absolute_timeout_s=1000)
    from server.infra.storage import migrate

    await migrate(store.engine)
    logins = store.login_sessions
    try:
        user = await store.users.create(
            email="u@example.org", name="U", role=Role.TRAINEE, password_hash="h"
        )
        token, _ = await logins.open(user.id, now=0.0, ip=None, user_agent=None)
        assert await logins.resolve(token, now=70.0) is not None  # a use, noted, not yet written
        logins._engine = _ReadFinishingAfterWrites(logins._engine, logins)  # type: ignore[assignment]
        # Used 80 s ago, not 150: still signed in.
        assert await logins.resolve(token, now=150.0) is not None
    finally:
        await store.close()


async def test_audit_chain_holds_under_concurrent_appends(store: Store) -> None:
    await asyncio.gather(
        *(
            store.audit.append("test.event", actor_id=f"a{i}", detail={"i": str(i)})
            for i in range(40)
        )
    )
    checked, broken = await store.audit.verify()
    assert (checked, broken) == (40, None)
    recent = await store.audit.recent(5)
    assert [e.seq for e in recent] == [40, 39, 38, 37, 36]


@pytest.mark.parametrize("tamper", ["edit", "delete-middle", "delete-last"])
async def test_audit_verification_finds_the_first_broken_link(store: Store, tamper: str) -> None:
    for i in range(6):
        await store.audit.append("test.event", actor_id="x", detail={"i": str(i)})
    async with store.engine.begin() as connection:
        if tamper == "edit":
            await connection.execute(
                audit_events.update().where(audit_events.c.seq == 3).values(actor_id="mallory")
            )
        elif tamper == "delete-middle":
            await connection.execute(audit_events.delete().where(audit_events.c.seq == 4))
        else:
            await connection.execute(audit_events.delete().where(audit_events.c.seq == 6))
    checked, broken = await store.audit.verify()
    assert checked == (5 if tamper.startswith("delete") else 6)
    assert broken is not None
    assert broken.seq == {"edit": 3, "delete-middle": 4, "delete-last": 6}[tamper]
    async with store.engine.connect() as connection:
        head = (await connection.execute(sa.select(audit_head.c.seq))).scalar_one()
    assert head == 6


async def test_ended_sign_ins_are_found_among_live_ones(store: Store) -> None:
    alive = await store.users.create(
        email="a@example.org", name="A", role=Role.MENTOR, password_hash="h"
    )
    gone = await store.users.create(
        email="g@example.org", name="G", role=Role.TRAINEE, password_hash="h"
    )
    _, live = await store.login_sessions.open(alive.id, now=1000.0, ip=None, user_agent=None)
    _, revoked = await store.login_sessions.open(alive.id, now=1000.0, ip=None, user_agent=None)
    _, disabled = await store.login_sessions.open(gone.id, now=1000.0, ip=None, user_agent=None)
    await store.login_sessions.revoke(revoked.token_hash, now=1001.0)
    await store.users.set_disabled(gone.id, True)
    hashes = {live.token_hash, revoked.token_hash, disabled.token_hash}
    assert await store.login_sessions.ended_among(hashes, now=1002.0) == {
        revoked.token_hash,
        disabled.token_hash,
    }
    # Past the absolute limit (12 h by default in these tests), every one has ended.
    assert await store.login_sessions.ended_among(hashes, now=1000.0 + 43200) == hashes


async def test_the_periodic_checks_take_any_number_of_sockets_and_rooms(store: Store) -> None:
    """A node checks every socket's sign-in and every open notes room every 30 s, in one call
    each: more of them than one statement may bind (SQLite 32,766, PostgreSQL 32,767) still
    answer, and the ended ones are among the answers."""
    user = await store.users.create(
        email="m@example.org", name="M", role=Role.MENTOR, password_hash="h"
    )
    _, revoked = await store.login_sessions.open(user.id, now=1000.0, ip=None, user_agent=None)
    await store.login_sessions.revoke(revoked.token_hash, now=1001.0)
    hashes = {f"{n:064x}" for n in range(40_000)} | {revoked.token_hash}
    assert await store.login_sessions.ended_among(hashes, now=1002.0) == {revoked.token_hash}
    session = await store.sessions.create(
        title="T", mentor_id=user.id, trainee_ids=(), media_mode="direct", scheduled_for=None
    )
    await store.sessions.end(session.id, now=1003.0)
    ids = [f"{n:032x}" for n in range(40_000)] + [session.id]
    assert [s.id for s in await store.sessions.ended_among(ids)] == [session.id]


async def test_a_batch_of_audit_events_extends_the_chain(store: Store) -> None:
    from server.infra.storage.audit import NewAuditEvent

    await store.audit.append("first")
    events = await store.audit.append_many(
        [NewAuditEvent("room.join", actor_id=f"u{i}", detail={"i": str(i)}) for i in range(5)]
    )
    assert [e.seq for e in events] == [2, 3, 4, 5, 6]
    assert events[0].prev_hash == (await store.audit.recent(6))[-1].hash
    assert await store.audit.verify() == (6, None)
