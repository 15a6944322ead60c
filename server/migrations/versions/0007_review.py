"""Review: countersignature comments and returned forms.

A countersignature keeps the signer's name and an optional comment; a supervisor can return a
submitted form to its mentor with a reason (the mentor's revision is an amendment).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("countersigned_by_name", sa.String(200)),
    ("countersign_comment", sa.Text),
    ("returned_at", sa.Double),
    ("returned_by", sa.String(64)),
    ("returned_by_name", sa.String(200)),
    ("return_reason", sa.Text),
)


def upgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        for name, kind in _COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        for name, _kind in reversed(_COLUMNS):
            batch.drop_column(name)
