"""Live sessions: sessions, their trainees, invites, socket tickets, marks; guest principals.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column(
            "mentor_id",
            sa.String(32),
            sa.ForeignKey("users.id", name="fk_sessions_mentor_id_users"),
            nullable=False,
        ),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("media_mode", sa.String(16), nullable=False),
        sa.Column("scheduled_for", sa.Double, nullable=True),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("started_at", sa.Double, nullable=True),
        sa.Column("ended_at", sa.Double, nullable=True),
        sa.CheckConstraint("status IN ('scheduled', 'live', 'ended')", name="ck_sessions_status"),
    )
    op.create_index("ix_sessions_mentor_id", "sessions", ["mentor_id"])
    op.create_table(
        "session_trainees",
        sa.Column(
            "session_id",
            sa.String(32),
            sa.ForeignKey(
                "sessions.id", ondelete="CASCADE", name="fk_session_trainees_session_id_sessions"
            ),
            primary_key=True,
        ),
        sa.Column(
            "trainee_id",
            sa.String(32),
            sa.ForeignKey("users.id", name="fk_session_trainees_trainee_id_users"),
            primary_key=True,
        ),
    )
    op.create_index("ix_session_trainees_trainee_id", "session_trainees", ["trainee_id"])
    op.create_table(
        "invites",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column(
            "session_id",
            sa.String(32),
            sa.ForeignKey("sessions.id", ondelete="CASCADE", name="fk_invites_session_id_sessions"),
            nullable=False,
        ),
        sa.Column(
            "trainee_id",
            sa.String(32),
            sa.ForeignKey("users.id", name="fk_invites_trainee_id_users"),
            nullable=True,
        ),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
        sa.Column("expires_at", sa.Double, nullable=False),
        sa.Column("max_uses", sa.Integer, nullable=False),
        sa.Column("uses", sa.Integer, nullable=False),
        sa.Column("revoked_at", sa.Double, nullable=True),
    )
    op.create_index("ix_invites_session_id", "invites", ["session_id"])
    op.create_table(
        "socket_tickets",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("login_token_hash", sa.String(64), nullable=False),
        sa.Column("session_id", sa.String(32), nullable=False),
        sa.Column("expires_at", sa.Double, nullable=False),
        sa.Column("used_at", sa.Double, nullable=True),
    )
    op.create_table(
        "marks",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "session_id",
            sa.String(32),
            sa.ForeignKey("sessions.id", ondelete="CASCADE", name="fk_marks_session_id_sessions"),
            nullable=False,
        ),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("at_ms", sa.BigInteger, nullable=False),
        sa.Column("by_subject", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Double, nullable=False),
    )
    op.create_index("ix_marks_session_id", "marks", ["session_id"])
    with op.batch_alter_table("login_sessions") as batch:
        batch.alter_column("user_id", existing_type=sa.String(32), nullable=True)
        batch.add_column(sa.Column("guest_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("scope_session_id", sa.String(32), nullable=True))
        batch.add_column(sa.Column("display_name", sa.String(80), nullable=True))
        batch.add_column(sa.Column("invite_id", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("login_sessions") as batch:
        batch.drop_column("invite_id")
        batch.drop_column("display_name")
        batch.drop_column("scope_session_id")
        batch.drop_column("guest_id")
    op.drop_index("ix_marks_session_id", table_name="marks")
    op.drop_table("marks")
    op.drop_table("socket_tickets")
    op.drop_index("ix_invites_session_id", table_name="invites")
    op.drop_table("invites")
    op.drop_index("ix_session_trainees_trainee_id", table_name="session_trainees")
    op.drop_table("session_trainees")
    op.drop_index("ix_sessions_mentor_id", table_name="sessions")
    op.drop_table("sessions")
