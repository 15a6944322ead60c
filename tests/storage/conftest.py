"""The store every test here runs against: migrated, on SQLite and on PostgreSQL
(``database_url`` is parametrized in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from server.infra.storage import Store
from tests.support import migrated_store


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    store = await migrated_store(database_url)
    yield store
    await store.close()
