"""The session record: shared notes (a CRDT per session, y-websocket protocol) and their history,
marks, feedback instruments and their workflow (``session_notes.workflow``), progress, and the
one SQLAlchemy metadata every table of the product is defined on (``session_notes.schema``).
"""

from __future__ import annotations

from session_notes.authorship import (
    AuthoredRun,
    StoredUpdate,
    Version,
    VersionInfo,
    authored_runs,
    history_index,
    version_at,
)
from session_notes.document import InvalidUpdate, NotesDocument, check_update
from session_notes.marks import MarkRecord, MarkStore
from session_notes.protocol import (
    AwarenessEntry,
    AwarenessUpdate,
    NotesMessage,
    NotesProtocolError,
    QueryAwareness,
    SyncStep1,
    SyncStep2,
    SyncUpdate,
    awareness_frame,
    encode_awareness,
    parse_awareness,
    parse_frame,
    sync_step1_frame,
    sync_step2_frame,
    update_frame,
)
from session_notes.store import (
    BatchWriter,
    NewUpdate,
    NotesStore,
    NotesStoreError,
    Snapshot,
    SqlNotesStore,
)

__all__ = [
    "AuthoredRun",
    "AwarenessEntry",
    "AwarenessUpdate",
    "BatchWriter",
    "InvalidUpdate",
    "MarkRecord",
    "MarkStore",
    "NewUpdate",
    "NotesDocument",
    "NotesMessage",
    "NotesProtocolError",
    "NotesStore",
    "NotesStoreError",
    "QueryAwareness",
    "Snapshot",
    "SqlNotesStore",
    "StoredUpdate",
    "SyncStep1",
    "SyncStep2",
    "SyncUpdate",
    "Version",
    "VersionInfo",
    "authored_runs",
    "awareness_frame",
    "check_update",
    "encode_awareness",
    "history_index",
    "parse_awareness",
    "parse_frame",
    "sync_step1_frame",
    "sync_step2_frame",
    "update_frame",
    "version_at",
]
