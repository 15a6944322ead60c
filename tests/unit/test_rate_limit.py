from __future__ import annotations

from server.infra.rate_limit import SlidingWindowLimiter


def test_allows_limit_hits_per_window_then_waits_for_the_oldest() -> None:
    limiter = SlidingWindowLimiter(3, 60)
    for t in (0.0, 10.0, 20.0):
        assert limiter.retry_after("k", t) == 0
        limiter.hit("k", t)
    assert limiter.retry_after("k", 30.0) == 30.0
    assert limiter.retry_after("other", 30.0) == 0
    assert limiter.retry_after("k", 60.0) == 0  # the hit at 0 slid out of the window


def test_reset_forgets_a_key() -> None:
    limiter = SlidingWindowLimiter(1, 60)
    limiter.hit("k", 0)
    assert limiter.retry_after("k", 1) > 0
    limiter.reset("k")
    assert limiter.retry_after("k", 1) == 0


def test_memory_is_bounded_by_dropping_the_stalest_key() -> None:
    limiter = SlidingWindowLimiter(1, 1000, max_keys=3)
    for i, key in enumerate("abc"):
        limiter.hit(key, float(i))
    limiter.hit("a", 3.0)  # a is now the freshest
    limiter.hit("d", 4.0)  # evicts b, the stalest
    assert limiter.retry_after("b", 5.0) == 0
    assert limiter.retry_after("a", 5.0) > 0
    assert limiter.retry_after("c", 5.0) > 0
    assert limiter.retry_after("d", 5.0) > 0
