from __future__ import annotations

from server.access.principal import Principal
from server.http.principal_cache import PrincipalCache
from server.infra.roles import Role
from server.infra.storage import LoginSession


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _principal(subject: str, *, guest: bool = False, admitted: bool = False) -> Principal:
    login = LoginSession(
        token_hash=f"h-{subject}",
        user_id=None,
        csrf_token="c",
        created_at=0.0,
        last_seen_at=0.0,
        expires_at=1e12,
    )
    return Principal(
        subject,
        "Name",
        Role.TRAINEE,
        None,
        login,
        scope_session_id="s1" if guest else None,
        admitted=admitted,
    )


def test_an_entry_lives_for_the_ttl_only() -> None:
    clock = Clock()
    cache = PrincipalCache(ttl_s=1.0, clock=clock)
    alice = _principal("alice")
    cache.put("h1", alice)
    assert cache.get("h1") is alice
    clock.now += 0.99
    assert cache.get("h1") is alice
    clock.now += 0.02
    assert cache.get("h1") is None


def test_a_waiting_guest_is_never_kept_so_an_admission_counts_at_once() -> None:
    cache = PrincipalCache(clock=Clock())
    cache.put("waiting", _principal("g1", guest=True))
    cache.put("admitted", _principal("g2", guest=True, admitted=True))
    assert cache.get("waiting") is None
    assert cache.get("admitted") is not None


def test_forgetting_a_login_or_a_subject() -> None:
    cache = PrincipalCache(clock=Clock())
    cache.put("a1", _principal("alice"))
    cache.put("a2", _principal("alice"))
    cache.put("b1", _principal("bob"))
    cache.forget_logins(["b1", "unknown"])
    assert cache.get("b1") is None
    cache.forget_subject("alice")
    assert cache.get("a1") is None
    assert cache.get("a2") is None


def test_the_oldest_entries_go_first_when_full() -> None:
    cache = PrincipalCache(max_entries=2, clock=Clock())
    for key in ("x", "y", "z"):
        cache.put(key, _principal(key))
    assert cache.get("x") is None
    assert cache.get("y") is not None
    assert cache.get("z") is not None
