"""Bring a database to the newest schema with Alembic, on the app's own async engine."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from server.infra.storage.engine import for_writing

__all__ = ["migrate"]

_MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def _upgrade(connection: Connection) -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def migrate(engine: AsyncEngine) -> None:
    async with for_writing(engine).begin() as connection:
        await connection.run_sync(_upgrade)
