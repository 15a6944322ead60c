"""Trainees and guests linked from the pages: why an invite was withdrawn (so a denied guest's
link cannot knock again and the mentor sees why), and the account an admitted guest was linked to.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invites") as batch:
        batch.add_column(sa.Column("revoked_reason", sa.String(16), nullable=True))
    with op.batch_alter_table("login_sessions") as batch:
        batch.add_column(sa.Column("linked_user_id", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("login_sessions") as batch:
        batch.drop_column("linked_user_id")
    with op.batch_alter_table("invites") as batch:
        batch.drop_column("revoked_reason")
