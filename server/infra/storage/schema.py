"""The server's table definitions (SQLAlchemy Core). Alembic migrations in ``server/migrations``
create them.

They are defined on the product's one metadata, :data:`session_notes.schema.metadata` (re-exported
here), beside the record's tables. Times are UTC epoch seconds as floats: one type on SQLite and
PostgreSQL, no time-zone surprises.
"""

from __future__ import annotations

import sqlalchemy as sa

from session_notes.schema import metadata

__all__ = [
    "audit_events",
    "audit_head",
    "chat_messages",
    "invites",
    "login_sessions",
    "metadata",
    "password_resets",
    "recordings",
    "session_trainees",
    "sessions",
    "socket_tickets",
    "speaking_time",
    "supervisor_assignments",
    "users",
]


users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("updated_at", sa.Double, nullable=False),
    # The migrations spelled CHECK names in full under the naming convention, which prefixed
    # them again: conv() takes the database's name as is (tests/storage/test_schema_drift.py).
    sa.CheckConstraint(
        "role IN ('admin', 'mentor', 'trainee', 'supervisor')",
        name=sa.schema.conv("ck_users_ck_users_role"),
    ),
)

supervisor_assignments = sa.Table(
    "supervisor_assignments",
    metadata,
    sa.Column(
        "supervisor_id",
        sa.String(32),
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column(
        "trainee_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("created_at", sa.Double, nullable=False),
)

# The cookie holds a random token; only its SHA-256 is stored, so a database dump grants no access.
login_sessions = sa.Table(
    "login_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    # A signed-in account has user_id; a guest who redeemed an invite has guest_id and is bound to
    # scope_session_id (with user_id too when the invite named a trainee's account).
    sa.Column(
        "user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    ),
    sa.Column("guest_id", sa.String(32), nullable=True),
    sa.Column("scope_session_id", sa.String(32), nullable=True),
    sa.Column("display_name", sa.String(80), nullable=True),
    sa.Column("invite_id", sa.String(32), nullable=True),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("last_seen_at", sa.Double, nullable=False),
    sa.Column("expires_at", sa.Double, nullable=False),
    sa.Column("revoked_at", sa.Double, nullable=True),
    sa.Column("ip", sa.String(64), nullable=True),
    sa.Column("user_agent", sa.String(300), nullable=True),
    # A guest's admission by the session's mentor, stored so it survives reconnects, restarts
    # and nodes (DESIGN.md §1: an invite grants presence only once admitted).
    sa.Column("admitted_at", sa.Double, nullable=True),
    # The trainee account a mentor said an admitted guest is (the guest keeps a guest's powers;
    # the record names the account, and the account is listed in the session).
    sa.Column("linked_user_id", sa.String(32), nullable=True),
    sa.Index("ix_login_sessions_user_id", "user_id"),
    sa.Index("ix_login_sessions_guest_id", "guest_id"),
    sa.Index("ix_login_sessions_invite_id", "invite_id"),
)

# One-time password reset links an admin hands to a person. Like login tokens, only the token's
# SHA-256 is stored; a row is spent once used, and a newer link for the same account spends it.
password_resets = sa.Table(
    "password_resets",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column(
        "user_id", sa.String(32), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("created_by", sa.String(32), nullable=True),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("expires_at", sa.Double, nullable=False),
    sa.Column("used_at", sa.Double, nullable=True),
    sa.Index("ix_password_resets_user_id", "user_id"),
)

# Append-only and hash-chained: each row's hash covers its content and the previous row's hash.
audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("actor_id", sa.String(64), nullable=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(200), nullable=True),
    sa.Column("ip", sa.String(64), nullable=True),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index("ix_audit_events_target_seq", "target", "seq"),
)

# One row that serialises appends: the writer locks it, so two appends can never fork the chain.
audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("mentor_id", sa.String(32), sa.ForeignKey("users.id"), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("media_mode", sa.String(16), nullable=False),
    # Issue 11: supervisors may observe without the trainee seeing them (never the mentor).
    sa.Column("observers_hidden", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("scheduled_for", sa.Double, nullable=True),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("started_at", sa.Double, nullable=True),
    sa.Column("ended_at", sa.Double, nullable=True),
    sa.CheckConstraint(
        "status IN ('scheduled', 'live', 'ended')",
        name=sa.schema.conv("ck_sessions_ck_sessions_status"),
    ),
    sa.Index("ix_sessions_mentor_id", "mentor_id"),
)

session_trainees = sa.Table(
    "session_trainees",
    metadata,
    sa.Column(
        "session_id",
        sa.String(32),
        sa.ForeignKey("sessions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("trainee_id", sa.String(32), sa.ForeignKey("users.id"), primary_key=True),
    sa.Index("ix_session_trainees_trainee_id", "trainee_id"),
)

# Like login tokens, invite tokens are stored only as SHA-256: the link itself is never kept.
invites = sa.Table(
    "invites",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column(
        "session_id",
        sa.String(32),
        sa.ForeignKey("sessions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("trainee_id", sa.String(32), sa.ForeignKey("users.id"), nullable=True),
    sa.Column("name", sa.String(200), nullable=True),
    sa.Column("email", sa.String(320), nullable=True),
    sa.Column("created_by", sa.String(32), nullable=False),
    sa.Column("created_at", sa.Double, nullable=False),
    sa.Column("expires_at", sa.Double, nullable=False),
    sa.Column("max_uses", sa.Integer, nullable=False),
    sa.Column("uses", sa.Integer, nullable=False),
    sa.Column("revoked_at", sa.Double, nullable=True),
    # Why it was withdrawn: "withdrawn" by the mentor, or "denied" (someone who used it was
    # denied in the lobby, so the same link cannot knock again).
    sa.Column("revoked_reason", sa.String(16), nullable=True),
    sa.Index("ix_invites_session_id", "session_id"),
)

# Single-use, short-lived tickets for socket clients that cannot send cookies.
socket_tickets = sa.Table(
    "socket_tickets",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("login_token_hash", sa.String(64), nullable=False),
    sa.Column("session_id", sa.String(32), nullable=False),
    sa.Column("expires_at", sa.Double, nullable=False),
    sa.Column("used_at", sa.Double, nullable=True),
)

# What was said in a session's chat, kept with its record (issue 10). ``seq`` orders messages
# that share a millisecond; the name is the sender's display name when it was sent.
chat_messages = sa.Table(
    "chat_messages",
    metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("id", sa.String(32), nullable=False, unique=True),
    sa.Column(
        "session_id",
        sa.String(32),
        sa.ForeignKey("sessions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("peer", sa.String(64), nullable=False),
    sa.Column("author_subject", sa.String(64), nullable=False),
    sa.Column("author_name", sa.String(200), nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("at", sa.Double, nullable=False),
    sa.Column("at_ms", sa.BigInteger, nullable=False),
    # Who may read the line (issue 11: `mentors` for a hidden observer's), fixed when it is said.
    sa.Column("audience", sa.String(16), nullable=False, server_default="everyone"),
    sa.Index("ix_chat_messages_session_id_seq", "session_id", "seq"),
    sa.CheckConstraint(
        "audience IN ('everyone', 'mentors')",
        name=sa.schema.conv("ck_chat_messages_ck_chat_messages_audience"),
    ),
)

# Recordings (issue 12): one row per participant's file per recording segment. The file lives
# under the data dir, sealed (encrypted); the key never comes here. ``state``: `recording` while
# it is written (a row left so at start-up was cut by a crash), then `complete` or `incomplete`.
recordings = sa.Table(
    "recordings",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "session_id",
        sa.String(32),
        sa.ForeignKey("sessions.id", ondelete="CASCADE"),
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
    # Wall-clock time of the first keyframe: where the file's timeline starts (marks line up).
    sa.Column("media_started_at", sa.Double, nullable=True),
    sa.CheckConstraint(
        "state IN ('recording', 'complete', 'incomplete', 'failed')",
        name=sa.schema.conv("ck_recordings_ck_recordings_state"),
    ),
    sa.Index("ix_recordings_session_id", "session_id"),
    sa.Index("ix_recordings_started_at", "started_at"),
)

# Speaking time (issue 11): milliseconds each person spoke in each minute of a session, read from
# the audio-level header extension of the packets the media peer forwards (never decoded).
# ``subject`` is who was there as the record names them (an account's or a guest's id); a
# minute's row is added to as the media peer reports it.
speaking_time = sa.Table(
    "speaking_time",
    metadata,
    sa.Column(
        "session_id",
        sa.String(32),
        sa.ForeignKey("sessions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("subject", sa.String(64), primary_key=True),
    sa.Column("minute", sa.Integer, primary_key=True),
    sa.Column("speaking_ms", sa.Integer, nullable=False),
)
