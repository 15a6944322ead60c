"""The product's one SQLAlchemy metadata, and the record's tables on it (DESIGN.md §1).

Every table of the product is defined on :data:`metadata`: the record's here, the server's in
``server/infra/storage/schema.py`` (which re-exports it). Alembic's migrations
(``server/migrations``) create the tables and compare against this metadata whole
(tests/storage/test_schema_drift.py), so it lives in the lowest package that needs it.

Times are UTC epoch seconds as floats: one type on SQLite and PostgreSQL, no time-zone surprises.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "feedback",
    "instrument_templates",
    "marks",
    "metadata",
    "notes_snapshots",
    "notes_updates",
]

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# Shared notes (migration 0003): an append-only log of updates, each with its author and time,
# and a snapshot per session that makes loading fast.
notes_updates = sa.Table(
    "notes_updates",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("session_id", sa.String(32), nullable=False),
    sa.Column("update", sa.LargeBinary, nullable=False),
    sa.Column("author_id", sa.String(64), nullable=False),
    sa.Column("author_name", sa.String(80), nullable=False),
    sa.Column("at", sa.Double, nullable=False),
    sa.Index("ix_notes_updates_session_id_id", "session_id", "id"),
)

notes_snapshots = sa.Table(
    "notes_snapshots",
    metadata,
    sa.Column("session_id", sa.String(32), primary_key=True),
    sa.Column("snapshot", sa.LargeBinary, nullable=False),
    sa.Column("upto_id", sa.BigInteger, nullable=False),
    sa.Column("at", sa.Double, nullable=False),
)

# Marks (migration 0002): moments of a session the mentor flagged to discuss.
marks = sa.Table(
    "marks",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "session_id",
        sa.String(32),
        sa.ForeignKey("sessions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("label", sa.String(200), nullable=False),
    sa.Column("tags", sa.Text, nullable=False),
    sa.Column("at_ms", sa.BigInteger, nullable=False),
    sa.Column("by_subject", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Index("ix_marks_session_id", "session_id"),
)

# Programs' own instrument templates, every version kept (migration 0004).
instrument_templates = sa.Table(
    "instrument_templates",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("version", sa.String(32), primary_key=True),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_by", sa.String(32), nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
)

# Filled-in feedback forms (migrations 0004, 0007, 0015).
feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("session_id", sa.String(32), nullable=False),
    sa.Column("instrument_id", sa.String(64), nullable=False),
    sa.Column("instrument_version", sa.String(32), nullable=False),
    sa.Column("trainee_id", sa.String(64), nullable=False),
    sa.Column("author_id", sa.String(64), nullable=False),
    sa.Column("author_name", sa.String(200), nullable=False),
    sa.Column("respondent", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("responses", sa.Text, nullable=False),
    sa.Column("evidence", sa.Text, nullable=False),
    sa.Column("trainee_responses", sa.Text, nullable=False),
    sa.Column("amends_id", sa.String(32), nullable=True),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    sa.Column("submitted_at", sa.Double, nullable=True),
    sa.Column("acknowledged_at", sa.Double, nullable=True),
    sa.Column("acknowledged_by", sa.String(64), nullable=True),
    sa.Column("ack_reply", sa.Text, nullable=True),
    sa.Column("countersigned_at", sa.Double, nullable=True),
    sa.Column("countersigned_by", sa.String(64), nullable=True),
    # Migration 0007: the countersignature's comment and signer's name; a form returned to its
    # mentor (who revises it as an amendment, so what was submitted never changes).
    sa.Column("countersigned_by_name", sa.String(200), nullable=True),
    sa.Column("countersign_comment", sa.Text, nullable=True),
    sa.Column("returned_at", sa.Double, nullable=True),
    sa.Column("returned_by", sa.String(64), nullable=True),
    sa.Column("returned_by_name", sa.String(200), nullable=True),
    sa.Column("return_reason", sa.Text, nullable=True),
    # Migration 0015: the draft's revision, raised by every save; a save that
    # names a revision not above it is older than what is stored and is refused (409 stale).
    sa.Column("revision", sa.BigInteger, nullable=False, server_default=sa.text("0")),
    # Migration 0004 spelled the full name under the naming convention, which prefixed it again:
    # the database's name, taken as is.
    sa.CheckConstraint(
        "status IN ('draft', 'submitted')",
        name=sa.schema.conv("ck_feedback_ck_feedback_status"),
    ),
    sa.Index("ix_feedback_session_id", "session_id"),
    sa.Index("ix_feedback_trainee_id", "trainee_id"),
)
