"""The instruments registry reads templates once, not on every request, and still finds a
version another node has just added."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from server.infra.storage.engine import create_engine
from server.infra.storage.migrate import migrate
from session_notes.instruments import DuplicateVersion, Template, TemplateStore, builtin_templates
from session_notes.instruments.registry import Instruments


class CountingStore(TemplateStore):
    """The real store on SQLite, counting how often the registry reads every template."""

    reads = 0

    async def all(self) -> list[Template]:
        self.reads += 1
        return await super().all()


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
    await migrate(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


def _new_version(version: str) -> Template:
    base = next(t for t in builtin_templates() if t.id == "mini-cex-abim")
    return msgspec.structs.replace(base, id="local-mini-cex", template_version=version)


async def test_many_lookups_read_the_templates_once(engine: AsyncEngine) -> None:
    store = CountingStore(engine, engine)
    registry = Instruments(store)
    for _ in range(10):
        assert await registry.get("mini-cex-abim") is not None
        await registry.latest()
    assert store.reads == 1


async def test_a_version_added_here_or_on_another_node_is_found_at_once(
    engine: AsyncEngine,
) -> None:
    now = [100.0]
    here = Instruments(CountingStore(engine, engine), clock=lambda: now[0])
    other_node = TemplateStore(engine, engine)
    assert await here.get("local-mini-cex") is None

    await here.add(_new_version("1.0.0"), created_by="admin")
    assert (await here.get("local-mini-cex", "1.0.0")) is not None
    with pytest.raises(DuplicateVersion):
        await here.add(_new_version("1.0.0"), created_by="admin")

    await other_node.add(_new_version("1.1.0"), created_by="admin")
    now[0] += 1.0  # a form citing it arrives a moment later
    found = await here.get("local-mini-cex", "1.1.0")
    assert found is not None
    assert found.template_version == "1.1.0"


async def test_lists_catch_up_with_other_nodes_within_the_ttl(engine: AsyncEngine) -> None:
    now = [100.0]
    store = CountingStore(engine, engine)
    here = Instruments(store, ttl=5.0, clock=lambda: now[0])
    await here.latest()
    await TemplateStore(engine, engine).add(_new_version("2.0.0"), created_by="admin")
    now[0] += 1.0
    assert "local-mini-cex" not in {t.id for t in await here.latest()}
    now[0] += 5.0
    assert "local-mini-cex" in {t.id for t in await here.latest()}
    assert store.reads == 2


async def test_lookups_of_missing_versions_cannot_flood_the_database(engine: AsyncEngine) -> None:
    store = CountingStore(engine, engine)
    here = Instruments(store, clock=lambda: 100.0)
    for n in range(50):
        assert await here.get("no-such-instrument", f"{n}.0") is None
    assert store.reads == 1
