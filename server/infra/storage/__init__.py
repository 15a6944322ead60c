"""Storage: one SQL engine and the stores that share it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from server.infra.storage.audit import AuditLog
from server.infra.storage.chat import ChatMessage, ChatStore
from server.infra.storage.engine import UNAVAILABLE, create_engine, for_writing, ping
from server.infra.storage.invites import Invite, InviteProblem, InviteStore
from server.infra.storage.login_sessions import GuestScope, LoginSession, LoginSessionStore
from server.infra.storage.migrate import migrate
from server.infra.storage.reads import Reads
from server.infra.storage.recordings import Recording, RecordingStore
from server.infra.storage.sessions import Session, SessionStatus, SessionStore
from server.infra.storage.sign_ins import SignIn, SignIns
from server.infra.storage.tickets import TicketStore
from server.infra.storage.users import DuplicateEmail, UserStore
from server.infra.storage.writes import Writes
from session_notes.marks import MarkRecord, MarkStore

__all__ = [
    "UNAVAILABLE",
    "AuditLog",
    "ChatMessage",
    "ChatStore",
    "DuplicateEmail",
    "GuestScope",
    "Invite",
    "InviteProblem",
    "InviteStore",
    "LoginSession",
    "LoginSessionStore",
    "MarkRecord",
    "MarkStore",
    "Reads",
    "Recording",
    "RecordingStore",
    "Session",
    "SessionStatus",
    "SessionStore",
    "SignIn",
    "SignIns",
    "Store",
    "TicketStore",
    "Writes",
    "create_engine",
    "migrate",
]


@dataclass(frozen=True)
class Store:
    engine: AsyncEngine
    reads: Reads
    writes: Writes
    users: UserStore
    login_sessions: LoginSessionStore
    sign_ins: SignIns
    audit: AuditLog
    sessions: SessionStore
    invites: InviteStore
    tickets: TicketStore
    marks: MarkStore
    chat: ChatStore
    recordings: RecordingStore

    @classmethod
    def open(cls, url: str, *, idle_timeout_s: float, absolute_timeout_s: float) -> Store:
        engine = create_engine(url)
        reads = Reads(engine)
        writes = Writes(engine)
        login_sessions = LoginSessionStore(
            engine, idle_timeout_s=idle_timeout_s, absolute_timeout_s=absolute_timeout_s
        )
        return cls(
            engine=engine,
            reads=reads,
            writes=writes,
            users=UserStore(engine),
            login_sessions=login_sessions,
            sign_ins=SignIns(reads, login_sessions),
            audit=AuditLog(engine, writes),
            sessions=SessionStore(engine, reads, writes),
            invites=InviteStore(engine),
            tickets=TicketStore(engine),
            marks=MarkStore(engine, for_writing(engine)),
            chat=ChatStore(engine, reads, writes),
            recordings=RecordingStore(engine),
        )

    async def ping(self) -> bool:
        return await ping(self.engine)

    async def close(self) -> None:
        await self.login_sessions.close()
        await self.engine.dispose()
        await self.reads.close()
        await self.writes.close()
