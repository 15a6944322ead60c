"""Guests' stored admission; indexes for revoking by guest or invite and reading the audit
log by target.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("login_sessions") as batch:
        batch.add_column(sa.Column("admitted_at", sa.Double, nullable=True))
    op.create_index("ix_login_sessions_guest_id", "login_sessions", ["guest_id"])
    op.create_index("ix_login_sessions_invite_id", "login_sessions", ["invite_id"])
    op.create_index("ix_audit_events_target_seq", "audit_events", ["target", "seq"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_target_seq", "audit_events")
    op.drop_index("ix_login_sessions_invite_id", "login_sessions")
    op.drop_index("ix_login_sessions_guest_id", "login_sessions")
    with op.batch_alter_table("login_sessions") as batch:
        batch.drop_column("admitted_at")
