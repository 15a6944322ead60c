from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from server.config import Config
from server.infra.storage import Store
from tests.support import (
    RunningServer,
    Scene,
    make_scene,
    migrated_store,
    multi_node_config,
    postgres_database,
    running_server,
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """Each test using this runs twice: on a SQLite file and on a fresh PostgreSQL database
    (a copy of one migrated from nothing)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/preceptor.db"
    else:
        async with postgres_database(migrated=True) as url:
            yield url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A migrated store on each database ``database_url`` names."""
    store = await migrated_store(database_url)
    yield store
    await store.close()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/preceptor.db",
        secret_key="test-secret-key-0123456789",
    )


@pytest.fixture
async def server(config: Config) -> AsyncIterator[RunningServer]:
    async with running_server(config) as running:
        yield running


@pytest.fixture
async def scene(server: RunningServer) -> AsyncIterator[Scene]:
    made = await make_scene(server)
    yield made
    await made.mentor_http.aclose()
    await made.guest_http.aclose()


@pytest.fixture
async def nodes(tmp_path: Path) -> AsyncIterator[tuple[RunningServer, RunningServer]]:
    """Two server nodes (separate apps, node ids and connections) joined by the machine's
    PostgreSQL and Redis."""
    async with postgres_database(migrated=True) as url:
        config = multi_node_config(tmp_path, url)
        async with running_server(config) as a, running_server(config) as b:
            assert a.services.rooms.node_id != b.services.rooms.node_id
            yield a, b
