"""The reads a socket's handshake makes (issue 8: one statement each), on SQLite and PostgreSQL:
a session with its trainees, a sign-in by its hash, and a single-use ticket."""

from __future__ import annotations

from server.infra.roles import Role
from server.infra.storage import Store


async def _user(store: Store, email: str, role: Role) -> str:
    user = await store.users.create(email=email, name=email, role=role, password_hash="h")
    return user.id


async def test_a_session_is_read_with_its_trainees_in_order(store: Store) -> None:
    mentor = await _user(store, "m@example.org", Role.MENTOR)
    trainees = sorted([await _user(store, f"t{i}@example.org", Role.TRAINEE) for i in range(3)])
    alone = await store.sessions.create(
        title="alone", mentor_id=mentor, trainee_ids=[], media_mode="direct", scheduled_for=None
    )
    full = await store.sessions.create(
        title="full",
        mentor_id=mentor,
        trainee_ids=list(reversed(trainees)),
        media_mode="routed",
        scheduled_for=123.0,
    )
    got = await store.sessions.get(full.id)
    assert got is not None
    assert got.trainee_ids == tuple(trainees)
    assert (got.title, got.mentor_id, got.media_mode, got.scheduled_for) == (
        "full",
        mentor,
        "routed",
        123.0,
    )
    # The same as the listing's read of it.
    assert [s for s in await store.sessions.for_mentor(mentor) if s.id == full.id] == [got]
    empty = await store.sessions.get(alone.id)
    assert empty is not None
    assert empty.trainee_ids == ()
    assert await store.sessions.get("no-such-session") is None


async def test_a_sign_in_is_resolved_by_its_hash(store: Store) -> None:
    user = await _user(store, "u@example.org", Role.TRAINEE)
    token, opened = await store.login_sessions.open(user, now=1000.0, ip=None, user_agent=None)
    found = await store.login_sessions.resolve(token, now=1001.0)
    assert found is not None
    assert (found.token_hash, found.user_id, found.csrf_token) == (
        opened.token_hash,
        user,
        opened.csrf_token,
    )
    assert await store.login_sessions.resolve("not-a-token", now=1001.0) is None


async def test_a_ticket_opens_one_socket_of_its_session_before_it_expires(store: Store) -> None:
    user = await _user(store, "u@example.org", Role.MENTOR)
    _, login = await store.login_sessions.open(user, now=1000.0, ip=None, user_agent=None)
    tickets = store.tickets
    ticket, expires_at = await tickets.issue(
        login_token_hash=login.token_hash, session_id="s1", now=1000.0
    )
    assert await tickets.redeem(ticket, session_id="s2", now=1001.0) is None
    assert await tickets.redeem(ticket, session_id="s1", now=1001.0) == login.token_hash
    assert await tickets.redeem(ticket, session_id="s1", now=1002.0) is None  # used
    late, _ = await tickets.issue(login_token_hash=login.token_hash, session_id="s1", now=1000.0)
    assert await tickets.redeem(late, session_id="s1", now=expires_at) is None
    assert await tickets.redeem("no-such-ticket", session_id="s1", now=1001.0) is None
