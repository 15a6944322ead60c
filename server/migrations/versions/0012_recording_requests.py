"""Recordings know where their picture starts: `media_started_at`, the wall-clock time of a
recording's first keyframe (its timeline's zero), so that marks, which count from the session's
start, land on the right moment of the file (issue 12). Before it, only the time the recording
was asked for was kept, up to a second or more earlier.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recordings") as batch:
        batch.add_column(sa.Column("media_started_at", sa.Double, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recordings") as batch:
        batch.drop_column("media_started_at")
