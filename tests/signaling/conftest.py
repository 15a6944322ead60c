from __future__ import annotations

import pytest

from signaling import Role
from tests.signaling.harness import Harness


@pytest.fixture
def h() -> Harness:
    """An empty room."""
    return Harness()


@pytest.fixture
def room(h: Harness) -> Harness:
    """A room with an admitted mentor "m" (p1), trainee "t" (p2) and supervisor "s" (p3)."""
    h.join("m", Role.MENTOR)
    h.join("t", Role.TRAINEE)
    h.join("s", Role.SUPERVISOR)
    return h
