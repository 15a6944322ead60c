"""The fuzz of every route as every kind of principal (tests/api/fuzzing.py), on SQLite.

One database per module: the SQLite and the PostgreSQL halves run on different workers."""

from __future__ import annotations

import pytest

from server.config import Config
from tests.access.test_matrix import Cast, cast  # noqa: F401 - `cast` is a fixture
from tests.api.fuzzing import fuzz_config, fuzz_every_route
from tests.support import RunningServer

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def config(config: Config, database_url: str) -> Config:
    return fuzz_config(config, database_url)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_no_route_answers_a_5xx_to_anyone(server: RunningServer, cast: Cast) -> None:  # noqa: F811
    problems = await fuzz_every_route(server, cast)
    assert not problems, "\n".join(problems[:20])
