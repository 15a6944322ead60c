"""Recordings: one row per participant's sealed file per segment (issue 12). Consents and
withdrawals are in the audit log (`room.consent`, with who and when).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "session_id",
            sa.String(32),
            sa.ForeignKey(
                "sessions.id", ondelete="CASCADE", name="fk_recordings_session_id_sessions"
            ),
            nullable=False,
        ),
        sa.Column("peer", sa.String(64), nullable=False),
        sa.Column("segment", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started_at", sa.Double, nullable=False),
        sa.Column("ended_at", sa.Double, nullable=True),
        sa.Column("duration_s", sa.Double, nullable=True),
        sa.Column("size_bytes", sa.BigInteger, nullable=True),
        sa.Column("codecs", sa.String(64), nullable=True),
        sa.Column("container", sa.String(8), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.CheckConstraint(
            "state IN ('recording', 'complete', 'incomplete', 'failed')", name="ck_recordings_state"
        ),
    )
    op.create_index("ix_recordings_session_id", "recordings", ["session_id"])
    op.create_index("ix_recordings_started_at", "recordings", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_recordings_started_at", "recordings")
    op.drop_index("ix_recordings_session_id", "recordings")
    op.drop_table("recordings")
