"""Speaking time: milliseconds each person spoke per minute of a session (issue 11), from the
audio-level header extension of forwarded packets.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "speaking_time",
        sa.Column(
            "session_id",
            sa.String(32),
            sa.ForeignKey(
                "sessions.id", ondelete="CASCADE", name="fk_speaking_time_session_id_sessions"
            ),
            primary_key=True,
        ),
        sa.Column("subject", sa.String(64), primary_key=True),
        sa.Column("minute", sa.Integer, primary_key=True),
        sa.Column("speaking_ms", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("speaking_time")
