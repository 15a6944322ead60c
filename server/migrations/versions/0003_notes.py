"""Shared notes: the append-only update log (with authors) and load snapshots.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notes_updates",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("session_id", sa.String(32), nullable=False),
        sa.Column("update", sa.LargeBinary, nullable=False),
        sa.Column("author_id", sa.String(64), nullable=False),
        sa.Column("author_name", sa.String(80), nullable=False),
        sa.Column("at", sa.Double, nullable=False),
    )
    op.create_index("ix_notes_updates_session_id_id", "notes_updates", ["session_id", "id"])
    op.create_table(
        "notes_snapshots",
        sa.Column("session_id", sa.String(32), primary_key=True),
        sa.Column("snapshot", sa.LargeBinary, nullable=False),
        sa.Column("upto_id", sa.BigInteger, nullable=False),
        sa.Column("at", sa.Double, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notes_snapshots")
    op.drop_index("ix_notes_updates_session_id_id", table_name="notes_updates")
    op.drop_table("notes_updates")
