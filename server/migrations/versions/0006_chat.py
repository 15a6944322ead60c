"""Chat messages kept with the session record.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_messages",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column(
            "session_id",
            sa.String(32),
            sa.ForeignKey(
                "sessions.id", ondelete="CASCADE", name="fk_chat_messages_session_id_sessions"
            ),
            nullable=False,
        ),
        sa.Column("peer", sa.String(64), nullable=False),
        sa.Column("author_subject", sa.String(64), nullable=False),
        sa.Column("author_name", sa.String(200), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("at", sa.Double, nullable=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("id", name="uq_chat_messages_id"),
    )
    op.create_index("ix_chat_messages_session_id_seq", "chat_messages", ["session_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_chat_messages_session_id_seq", "chat_messages")
    op.drop_table("chat_messages")
