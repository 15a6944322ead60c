"""The migrations and the one metadata agree: a database migrated from nothing is what the table
definitions say, on SQLite and on PostgreSQL (DESIGN.md §1: one metadata that Alembic sees whole).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

import session_notes.schema
from server.infra.storage import Store
from server.infra.storage.schema import metadata

ROOT = Path(__file__).resolve().parents[2]


def _differences(connection: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


def _check_constraints(connection: Connection) -> dict[str, set[str]]:
    inspector = sa.inspect(connection)
    return {
        table: {c["name"] for c in inspector.get_check_constraints(table) if c["name"]}
        for table in metadata.tables
    }


def test_the_server_and_the_record_share_one_metadata() -> None:
    assert metadata is session_notes.schema.metadata
    for table in ("users", "sessions", "notes_updates", "feedback", "marks", "recordings"):
        assert table in metadata.tables


async def test_migrations_match_the_metadata(store: Store) -> None:
    async with store.engine.connect() as connection:
        differences = await connection.run_sync(_differences)
    assert differences == []


async def test_check_constraints_are_named_as_the_metadata_names_them(store: Store) -> None:
    """Alembic's comparison skips CHECK constraints: compare their names here."""
    declared = {
        table.name: {
            str(c.name) for c in table.constraints if isinstance(c, sa.CheckConstraint) and c.name
        }
        for table in metadata.tables.values()
    }
    async with store.engine.connect() as connection:
        found = await connection.run_sync(_check_constraints)
    assert found == declared


def test_no_module_makes_a_metadata_of_its_own() -> None:
    """A table on a private MetaData is invisible to Alembic's comparison above."""
    makers = []
    for package in ("server", "session_notes", "media", "signaling"):
        for path in (ROOT / package).rglob("*.py"):
            if "versions" in path.parts:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Call):
                    name = node.func.attr if isinstance(node.func, ast.Attribute) else None
                    name = node.func.id if isinstance(node.func, ast.Name) else name
                    if name == "MetaData":
                        makers.append(str(path.relative_to(ROOT)))
    assert makers == ["session_notes/schema.py"]
