"""Chat lines keep their audience (issue 11): `mentors` for a line said by an observer hidden from
trainees and guests, so that neither a reload's `chat-history` nor the record shows it to them,
whatever the session's setting later becomes. Lines said before this migration were for everyone.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chat_messages") as batch:
        batch.add_column(
            sa.Column("audience", sa.String(16), nullable=False, server_default="everyone")
        )
        batch.create_check_constraint(
            "ck_chat_messages_audience", "audience IN ('everyone', 'mentors')"
        )


def downgrade() -> None:
    with op.batch_alter_table("chat_messages") as batch:
        batch.drop_constraint("ck_chat_messages_audience", type_="check")
        batch.drop_column("audience")
