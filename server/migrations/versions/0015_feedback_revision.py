"""Feedback drafts carry a revision (a stale save must never overwrite a newer one): every save
of a draft raises it, and a save that names a revision not above the stored one arrived after a
newer save (the page left while a save was on the wire; a request replayed late) and is refused.
Forms saved before this migration start at 0.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(
            sa.Column("revision", sa.BigInteger, nullable=False, server_default=sa.text("0"))
        )


def downgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("revision")
