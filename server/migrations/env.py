"""Alembic environment. Migrations run through :func:`server.infra.storage.migrate.migrate`,
which hands in an open connection; see
https://alembic.sqlalchemy.org/en/latest/cookbook.html (asyncio)."""

from __future__ import annotations

from alembic import context

# The product's one metadata (session_notes.schema): importing the server's tables through it
# puts every table of the product on it, the record's and the server's.
from server.infra.storage.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - alembic's own CLI is not how we migrate
    raise RuntimeError("run migrations with `preceptor migrate`")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
