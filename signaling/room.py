"""The signaling room of one session: a sans-I/O state machine (DESIGN.md §1, §2).

Inputs are method calls carrying everything the room needs (the connection, the authenticated
principal, the parsed message, the monotonic time `now`); outputs are lists of effects for the shell
to carry out in order. The room reads no clock, draws no randomness and touches no socket, so every
rule here is tested without an event loop.

Members are admitted (they see and are seen by the room) or in the lobby (they hear only `waiting`,
`pong` and `error` until a mentor admits them). A member whose connection drops stays, unseen by the
others, for a grace window, so that a `join {resume}` on a new socket picks up the same peer id.
A room holds one member per person (`Principal.subject`): a join by someone who is already a member
takes that membership over from their other tab or device (see `Welcome.resumed`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

from signaling.close_codes import (
    CLOSE_ENDED,
    CLOSE_NORMAL,
    CLOSE_NOT_ALLOWED,
    CLOSE_REPLACED,
    REASON_DENIED,
)
from signaling.effects import (
    Audit,
    Close,
    Effect,
    MediaEnd,
    MediaJoin,
    MediaLeave,
    MediaSignal,
    RecordingChanged,
    Send,
    SendChatHistory,
    StoreChat,
    StoreMark,
)
from signaling.ids import (
    MEDIA_PEER,
    ConnectionId,
    MediaMode,
    PeerId,
    RecordingState,
    SessionId,
)
from signaling.messages import (
    Admit,
    Chat,
    ChatAudience,
    ChatPosted,
    ClientMessage,
    Consent,
    Deny,
    ErrorMessage,
    FeedbackNotice,
    IceServer,
    Join,
    Leave,
    Lobby,
    Mark,
    MarkAdded,
    MediaModeChanged,
    ObserversHidden,
    Peer,
    PeerJoined,
    PeerLeft,
    PeerStateChanged,
    Ping,
    Pong,
    RecordingStatus,
    ServerMessage,
    Signal,
    SignalRelay,
    StateUpdate,
    Waiting,
    Welcome,
)
from signaling.principal import Principal
from signaling.roster import Member, Roster

_DIRECT_UNRECORDABLE = (
    "This session is direct: video never passes through the server, so it cannot be recorded."
)
DEFAULT_GRACE = 30.0
"""Seconds a dropped member keeps its place: long enough for a phone to change networks."""


class Room:
    """The signaling state of one session. Not thread-safe: the shell feeds it from one task."""

    def __init__(
        self,
        session: SessionId,
        *,
        started_at: float,
        started_wall: float,
        new_id: Callable[[], str],
        new_token: Callable[[], str],
        grace: float = DEFAULT_GRACE,
        media_mode: MediaMode = MediaMode.DIRECT,
        auto_route: bool = False,
        observers_hidden: bool = False,
    ) -> None:
        """`started_at` is monotonic time (the clock of every later `now`); `started_wall` is the
        Unix time of the same instant, from which chat times are derived without reading a clock.
        `new_id` names peers and marks; `new_token` mints resume tokens (≥ 128 bits, §5)."""
        self.session = session
        self.started_at = started_at
        self.media_mode = media_mode
        # DESIGN.md §3: a direct room switches to routed for a third member, an observer or a
        # recording (never back); a session created `direct` explicitly never does.
        self._auto_route = auto_route
        # The session's setting: observers unseen by trainees and guests (never by mentors).
        self._observers_hidden = observers_hidden
        self._started_wall = started_wall
        self._new_id = new_id
        self._new_token = new_token
        self._grace = grace
        self._roster = Roster()
        self._recording_wanted = False
        self._ended = False

    # --- queries -------------------------------------------------------------------------------

    @property
    def ended(self) -> bool:
        return self._ended

    @property
    def is_empty(self) -> bool:
        """No member, connected or within its grace window: the shell may drop the room."""
        return not self._roster

    def members(self) -> tuple[Peer, ...]:
        """Admitted members in joining order, including any within their grace window."""
        return tuple(m.peer for m in self._roster.admitted())

    def lobby(self) -> tuple[Peer, ...]:
        """Members waiting for a mentor, in arrival order."""
        return self._roster.waiting()

    def peer_of(self, connection: ConnectionId) -> PeerId | None:
        member = self._roster.by_connection(connection)
        return None if member is None else member.peer.id

    def connection_of(self, peer: PeerId) -> ConnectionId | None:
        member = self._roster.get(peer)
        return None if member is None else member.connection

    def next_expiry(self) -> float | None:
        """When `expire` next has work to do, for the shell's timer; None if nobody is lost."""
        lost = [m.lost_at + self._kept(m) for m in self._roster if m.lost_at is not None]
        return min(lost) if lost else None

    def recording(self) -> RecordingStatus:
        return self._roster.recording(self._recording_wanted)

    # --- inputs --------------------------------------------------------------------------------

    def join(
        self,
        connection: ConnectionId,
        principal: Principal,
        message: Join,
        now: float,
        ice_servers: Sequence[IceServer] = (),
    ) -> list[Effect]:
        """A socket's first message. `ice_servers` are this member's own (TURN credentials are
        minted per member) and are kept for the `welcome` it gets if it is admitted later."""
        if self._ended:
            return [Close(connection, CLOSE_ENDED, "session ended")]
        known = self._roster.by_connection(connection)
        if known is not None:
            return self._reject(connection, known, "already-joined", "already joined")
        effects = self.expire(now)
        member = self._resumable(principal, message.resume, effects)
        if member is not None:
            return effects + self._resume(member, connection, tuple(ice_servers))
        member = self._roster.by_subject(principal.subject)
        if member is not None:
            return effects + self._take_over(member, connection, tuple(ice_servers))
        return effects + self._enter(connection, principal, message, tuple(ice_servers))

    def restore(
        self,
        connection: ConnectionId,
        principal: Principal,
        message: Join,
        now: float,
        ice_servers: Sequence[IceServer] = (),
        *,
        peer: PeerId,
        token: str,
        admitted: bool,
    ) -> list[Effect]:
        """A member of this session's room as the node that ran it before knew it (that node
        died or lost its claim): taken back with the same peer id and resume token and told
        `welcome {resumed: true}` (or `waiting`), so that nobody's view of the room changes. If
        this room already knows that peer, token or person, it is an ordinary `join {resume}`."""
        clash = self._roster.get(peer) or self._roster.by_token(token)
        if self._ended or clash is not None or self._roster.by_subject(principal.subject):
            return self.join(connection, principal, Join(resume=token), now, ice_servers)
        effects = self.expire(now)
        name = message.display_name or principal.display_name
        member = Member(
            peer=Peer(id=peer, role=principal.role, display_name=name, observer=principal.observer),
            subject=principal.subject,
            token=token,
            connection=None,
            admitted=False,
            ice_servers=tuple(ice_servers),
            guest=principal.guest,
        )
        self._roster.add(member, connection)
        effects.append(Audit("restore", peer, {"admission": "direct" if admitted else "lobby"}))
        if not admitted:
            return [*effects, Send(connection, Waiting(resume=token)), *self._lobby_changed()]
        return effects + self._admit(member, resumed=True)

    def handle(self, connection: ConnectionId, message: ClientMessage, now: float) -> list[Effect]:
        """Any message after `join`. A connection that is not a member here gets nothing: it may be
        one that a newer connection replaced and whose last frames are still arriving."""
        member = self._roster.by_connection(connection)
        if member is None:
            return []
        match message:
            case Ping(id=ping_id):
                return [Send(connection, Pong(id=ping_id))]
            case Leave():
                return [*self._depart(member, "left"), Close(connection, CLOSE_NORMAL, "left")]
            case Join():
                return self._reject(connection, member, "already-joined", "already joined")
        kind = str(message.__struct_config__.tag)
        if not member.admitted:
            text = f"`{kind}` is not allowed until a mentor admits you"
            return self._reject(connection, member, "not-admitted", text, {"type": kind})
        match message:
            case Signal():
                return self._signal(member, connection, message)
            case StateUpdate():
                member.media = message
                return self._broadcast(_state_of(member.peer.id, message), about=member)
            case Chat(text=text):
                return self._chat(member, text, now)
            case Consent(granted=granted):
                if not self._recording_wanted:
                    # Nothing is asked (the answer crossed a stop): it counts for no later request.
                    return [Send(connection, self.recording())]
                before = self.recording()
                member.consent = granted
                audit = Audit("consent", member.peer.id, {"granted": "yes" if granted else "no"})
                return [audit, *self._recording_changed(before, reply_to=connection)]
        if not member.is_mentor:
            text = f"only a mentor may send `{kind}`"
            return self._reject(connection, member, "forbidden", text, {"type": kind})
        match message:
            case Admit(peer=peer) | Deny(peer=peer):
                target = self._roster.get(peer)
                if target is None or target.admitted:
                    text = f"nobody called {peer!r} is waiting"
                    return self._reject(connection, member, "unknown-peer", text, {"peer": peer})
                if isinstance(message, Admit):
                    audit = Audit("admit", member.peer.id, {"peer": peer})
                    return [audit, *self._admit(target), *self._lobby_changed()]
                return self._deny(member, target)
            case Mark():
                return self._mark(member, message, now)
        wanted = message.action == "start"
        if wanted and self.media_mode is MediaMode.DIRECT and not self._auto_route:
            # Issue 11: a `direct` session's media never touches the server, so there is
            # nothing to record; saying "Recording" there would be a lie.
            return self._reject(connection, member, "recording-needs-routed", _DIRECT_UNRECORDABLE)
        before = self.recording()
        if wanted and not self._recording_wanted:
            # Issue 12: every request asks everyone again; answers to an earlier one lapse.
            self._roster.clear_consents()
        self._recording_wanted = wanted
        switch = self._route_if_needed(observer=False)
        return switch + self._recording_changed(before, reply_to=connection)

    def disconnect(
        self, connection: ConnectionId, now: float, grace: float | None = None
    ) -> list[Effect]:
        """The socket closed. Its member keeps its place, unannounced, for the grace window (or
        `grace`, if shorter: the shell found the socket silent, so the member has been gone a
        while already); a connection that was replaced or never joined is ignored."""
        keep_for = None if grace is None else min(grace, self._grace)
        self._roster.detach(connection, now, keep_for)
        return []

    def expire(self, now: float) -> list[Effect]:
        """Drop members whose grace window has passed; the others hear `peer-left {timeout}`."""
        effects: list[Effect] = []
        for member in self._roster:
            if member.lost_at is not None and now - member.lost_at >= self._kept(member):
                effects += self._depart(member, "timeout")
        return effects

    def _kept(self, member: Member) -> float:
        return self._grace if member.keep_for is None else member.keep_for

    def feedback_submitted(self, form: str, trainee: str) -> list[Effect]:
        """A feedback form about `trainee` (the subject of their account) was submitted: tell
        them if they are in the room signed in to it; if nobody is, tell the admitted guests (the
        trainee came through an invite link). The notice carries no content: reading the form
        is for the API to allow."""
        notice = FeedbackNotice(form=form, state="submitted")
        sent = self._roster.send_all(notice, where=lambda m: m.subject == trainee)
        return [*(sent or self._roster.send_all(notice, where=lambda m: m.guest))]

    def chat_stored_late(self, posted: ChatPosted) -> list[Effect]:
        """A line said in this room on the node it ran on before, stored there only after the
        room moved here: told now to whoever here may read it (its audience was fixed when it
        was said, as for a history)."""
        everyone = posted.audience == "everyone"
        return [*self._roster.send_all(posted, where=lambda m: everyone or m.sees_hidden)]

    def recording_failed(self, reason: str) -> list[Effect]:
        """The recorder could not go on (a full disk): recording stops for everyone, whose
        indicator goes off; only the mentors, who asked for it, hear `reason`."""
        if not self._recording_wanted:
            return []
        before = self.recording()
        self._recording_wanted = False
        self._roster.clear_consents()
        error = ErrorMessage(code="recording-failed", message=reason)
        told = self._roster.send_all(error, where=lambda m: m.is_mentor)
        return [Audit("recording-failed", None, {}), *self._recording_changed(before), *told]

    def hide_observers(self, hidden: bool) -> list[Effect]:
        """The session's observer setting changed during the call: trainees and guests lose
        sight of the observers now hidden (as if they left), or see them arrive; the observers
        are told the setting (`observers-hidden`), which decides who reads what they say."""
        if hidden == self._observers_hidden:
            return []
        members = list(self._roster.admitted())
        seen = {(v.peer.id, o.peer.id) for v in members for o in members if self._sees(v, o)}
        self._observers_hidden = hidden
        effects: list[Effect] = [Audit("observers-hidden", None, {"hidden": str(hidden).lower()})]
        for viewer in members:
            for other in members:
                was, now = (viewer.peer.id, other.peer.id) in seen, self._sees(viewer, other)
                if viewer.connection is None or was == now:
                    continue
                if not now:
                    effects.append(
                        Send(viewer.connection, PeerLeft(peer=other.peer.id, reason="left"))
                    )
                    continue
                effects.append(Send(viewer.connection, PeerJoined(other.peer)))
                if other.media is not None:
                    effects.append(Send(viewer.connection, _state_of(other.peer.id, other.media)))
        told = ObserversHidden(hidden=hidden)
        return [*effects, *self._roster.send_all(told, where=lambda m: m.peer.observer)]

    def end(self) -> list[Effect]:
        """The session ended: close every socket with 4410 and refuse later joins."""
        before = self.recording()
        effects: list[Effect] = [
            Close(m.connection, CLOSE_ENDED, "session ended")
            for m in self._roster
            if m.connection is not None
        ]
        self._roster.clear()
        self._recording_wanted = False
        self._ended = True
        if before.state is not RecordingState.OFF:
            effects.append(RecordingChanged(self.session, RecordingState.OFF))
        if self.media_mode is MediaMode.ROUTED:
            effects.append(MediaEnd(self.session))
        return effects

    # --- arriving ------------------------------------------------------------------------------

    def _resumable(
        self, principal: Principal, token: str | None, effects: list[Effect]
    ) -> Member | None:
        member = None if token is None else self._roster.by_token(token)
        if member is None:
            # No token, or the token of a member who left or expired: an ordinary fresh join.
            return None
        if member.subject != principal.subject:
            # Someone else's token: never hand them that peer. (The token itself is not logged.)
            effects.append(Audit("resume-rejected", member.peer.id, {"subject": principal.subject}))
            return None
        return member

    def _resume(
        self, member: Member, connection: ConnectionId, ice_servers: tuple[IceServer, ...]
    ) -> list[Effect]:
        effects: list[Effect] = []
        replaced = self._roster.attach(member, connection)
        if replaced is not None:
            effects.append(Close(replaced, CLOSE_REPLACED, "replaced by a newer connection"))
        member.ice_servers = ice_servers
        effects.append(Audit("resume", member.peer.id, {}))
        if member.admitted:
            welcome = self._welcome(member, connection, resumed=True)
            return effects + welcome + self._media_join(member)
        return [*effects, Send(connection, Waiting(resume=member.token))]

    def _take_over(
        self, member: Member, connection: ConnectionId, ice_servers: tuple[IceServer, ...]
    ) -> list[Effect]:
        """The same person joined again without this membership's current token (another tab or
        device, or a reload that lost it): the new connection becomes the member."""
        effects: list[Effect] = []
        replaced = self._roster.attach(member, connection)
        if replaced is not None:
            effects.append(Close(replaced, CLOSE_REPLACED, "replaced by a newer connection"))
        # The old tab's token no longer resumes; joining again from there takes over in turn.
        self._roster.retoken(member, self._new_token())
        member.ice_servers = ice_servers
        member.media = None  # the new tab announces its own
        effects.append(Audit("take-over", member.peer.id, {}))
        if not member.admitted:
            # Still one lobby entry: the mentors' lobby does not change.
            return [*effects, Send(connection, Waiting(resume=member.token))]
        # The others' connections to the old tab are dead: they drop them and await the offer
        # the new tab makes after its welcome (DESIGN.md §2: the newcomer offers).
        effects += self._broadcast(PeerLeft(peer=member.peer.id, reason="replaced"), about=member)
        effects += self._broadcast(PeerJoined(member.peer), about=member)
        welcome = self._welcome(member, connection, resumed=True)
        return effects + welcome + self._media_join(member)

    def _enter(
        self,
        connection: ConnectionId,
        principal: Principal,
        message: Join,
        ice_servers: tuple[IceServer, ...],
    ) -> list[Effect]:
        peer = PeerId(self._new_id())
        name = message.display_name or principal.display_name
        member = Member(
            peer=Peer(id=peer, role=principal.role, display_name=name, observer=principal.observer),
            subject=principal.subject,
            token=self._new_token(),
            connection=None,
            admitted=False,
            ice_servers=ice_servers,
            guest=principal.guest,
        )
        self._roster.add(member, connection)
        lobby = principal.needs_admission
        detail = {"role": str(principal.role), "admission": "lobby" if lobby else "direct"}
        if self._hidden(member):
            # The record keeps what a hidden observer did from those it hides them from.
            detail["hidden"] = "true"
        effects: list[Effect] = [Audit("join", peer, detail)]
        if lobby:
            waiting = Waiting(resume=member.token)
            return [*effects, Send(connection, waiting), *self._lobby_changed()]
        return effects + self._admit(member)

    def _admit(self, member: Member, *, resumed: bool = False) -> list[Effect]:
        before = self.recording()
        member.admitted = True
        # Everyone already here moves to `media` first; the newcomer's welcome says routed.
        effects: list[Effect] = self._route_if_needed(member.peer.observer, newcomer=member)
        if member.connection is not None:
            effects += self._welcome(member, member.connection, resumed=resumed)
        effects += self._broadcast(PeerJoined(member.peer), about=member)
        effects += self._media_join(member)
        # The newcomer's welcome already carries the new status.
        return effects + self._recording_changed(before, exclude=member)

    def _welcome(self, member: Member, connection: ConnectionId, *, resumed: bool) -> list[Effect]:
        others = [m for m in self._roster.admitted() if m is not member and self._sees(member, m)]
        welcome = Welcome(
            peer=member.peer.id,
            role=member.peer.role,
            display_name=member.peer.display_name,
            peers=tuple(m.peer for m in others),
            ice_servers=member.ice_servers,
            media_mode=self.media_mode,
            resume=member.token,
            recording=self.recording(),
            resumed=resumed,
        )
        audiences: tuple[ChatAudience, ...] = (
            ("everyone", "mentors") if member.sees_hidden else ("everyone",)
        )
        effects: list[Effect] = [Send(connection, welcome), SendChatHistory(connection, audiences)]
        # The newcomer learns the others' media state now; later changes come as they happen.
        effects += [Send(connection, _state_of(m.peer.id, m.media)) for m in others if m.media]
        if member.is_mentor:
            effects.append(Send(connection, Lobby(waiting=self.lobby())))
        return effects

    def _route_if_needed(self, observer: bool, newcomer: Member | None = None) -> list[Effect]:
        """Switch a direct room to routed, make-before-break: the members hear `media-mode`,
        bring up their connection to `media` (which offers to each), then drop the direct ones."""
        if not self._auto_route or self.media_mode is MediaMode.ROUTED:
            return []
        crowded = sum(1 for _ in self._roster.admitted()) >= 3
        if not (crowded or observer or self._recording_wanted):
            return []
        self.media_mode = MediaMode.ROUTED
        others = [m for m in self._roster.admitted() if m is not newcomer]
        effects: list[Effect] = [Audit("media-mode", None, {"mode": str(MediaMode.ROUTED)})]
        effects += self._broadcast(MediaModeChanged(mode=MediaMode.ROUTED), exclude=newcomer)
        return effects + [e for m in others for e in self._media_join(m)]

    def _media_join(self, member: Member) -> list[Effect]:
        if self.media_mode is not MediaMode.ROUTED:
            return []
        return [MediaJoin(self.session, member.peer.id, member.peer.observer)]

    # --- leaving -------------------------------------------------------------------------------

    def _depart(self, member: Member, reason: Literal["left", "timeout"]) -> list[Effect]:
        before = self.recording()
        self._roster.forget(member)
        effects: list[Effect] = [Audit("leave", member.peer.id, {"reason": reason})]
        if not member.admitted:
            return effects + self._lobby_changed()
        effects += self._broadcast(PeerLeft(peer=member.peer.id, reason=reason), about=member)
        if self.media_mode is MediaMode.ROUTED:
            effects.append(MediaLeave(self.session, member.peer.id))
        return effects + self._recording_changed(before)

    # --- messages ------------------------------------------------------------------------------

    def _signal(self, member: Member, connection: ConnectionId, message: Signal) -> list[Effect]:
        if message.to == MEDIA_PEER and self.media_mode is MediaMode.ROUTED:
            # The `media` peer is every member's only media peer in routed mode (DESIGN.md §3).
            peer = member.peer.id
            return [MediaSignal(self.session, peer, message.description, message.candidate)]
        target = self._roster.get(message.to)
        if target is None or not target.admitted or target is member:
            # DESIGN.md §2: never forward outside the room's admitted members (nor back to oneself).
            text = f"no admitted peer {message.to!r} to signal"
            return self._reject(connection, member, "unknown-peer", text, {"to": message.to})
        if target.connection is None:
            # It is within its grace window; on resuming it offers afresh, as a newcomer does.
            return []
        relay = SignalRelay(
            from_=member.peer.id, description=message.description, candidate=message.candidate
        )
        return [Send(target.connection, relay)]

    def _deny(self, mentor: Member, target: Member) -> list[Effect]:
        effects: list[Effect] = [Audit("deny", mentor.peer.id, {"peer": target.peer.id})]
        if target.connection is not None:
            effects.append(Close(target.connection, CLOSE_NOT_ALLOWED, REASON_DENIED))
        self._roster.forget(target)
        return effects + self._lobby_changed()

    def _chat(self, member: Member, text: str, now: float) -> list[Effect]:
        # Stored first, relayed once stored (the shell holds the sends): the record keeps
        # everything said, and a reload gets it back as `chat-history`.
        at = round((self._started_wall + now - self.started_at) * 1000)
        at_ms = max(0, round((now - self.started_at) * 1000))
        chat_id = self._new_id()
        peer, name = member.peer.id, member.peer.display_name
        # Issue 11: what a hidden observer says would reveal them. Its audience is fixed now,
        # so neither a reload nor a later change of the setting shows it to a trainee.
        audience: ChatAudience = "mentors" if self._hidden(member) else "everyone"
        posted = ChatPosted(from_=peer, text=text, at=at, name=name, id=chat_id, audience=audience)
        store = StoreChat(self.session, chat_id, peer, name, text, at, at_ms, audience)
        # To whoever sees the sender, and back to the sender (its page shows the line as sent).
        sent = self._roster.send_all(posted, where=lambda m: m is member or self._sees(m, member))
        return [store, *sent]

    def _mark(self, mentor: Member, message: Mark, now: float) -> list[Effect]:
        # An offset from the room's start places the mark on the session timeline and recordings.
        at_ms = max(0, round((now - self.started_at) * 1000))
        mark_id = self._new_id()
        by = mentor.peer.id
        added = MarkAdded(id=mark_id, label=message.label, tags=message.tags, at_ms=at_ms, by=by)
        store = StoreMark(self.session, mark_id, message.label, message.tags, at_ms, by)
        return [*self._roster.send_all(added, where=lambda m: m.sees_marks), store]

    # --- delivery ------------------------------------------------------------------------------

    def _broadcast(
        self, message: ServerMessage, exclude: Member | None = None, about: Member | None = None
    ) -> list[Effect]:
        """To every member but `exclude`; a message `about` a member goes to the others who
        see that member (see `_sees`)."""
        if about is not None:
            return [*self._roster.send_all(message, where=lambda m: self._sees(m, about))]
        return [*self._roster.send_all(message, where=lambda m: m is not exclude)]

    def _sees(self, viewer: Member, other: Member) -> bool:
        """Whether `viewer` is told about `other` (issue 11): an observer is hidden from
        trainees and guests when the session says so, never from a mentor or another observer
        or supervisor. Nobody is told about themselves."""
        if viewer is other:
            return False
        return not self._hidden(other) or viewer.sees_hidden

    def _hidden(self, member: Member) -> bool:
        """Hidden from trainees and guests now, by the session's setting."""
        return self._observers_hidden and member.peer.observer

    def _lobby_changed(self) -> list[Effect]:
        # Only mentors can admit, so only they see the lobby.
        return [*self._roster.send_all(Lobby(waiting=self.lobby()), where=lambda m: m.is_mentor)]

    def _recording_changed(
        self,
        before: RecordingStatus,
        *,
        exclude: Member | None = None,
        reply_to: ConnectionId | None = None,
    ) -> list[Effect]:
        after = self.recording()
        if after == before:
            # Nothing changed: tell the sender where things stand rather than the whole room.
            return [] if reply_to is None else [Send(reply_to, after)]
        effects = self._broadcast(after, exclude=exclude)
        if after.state is not before.state:
            effects.append(RecordingChanged(self.session, after.state))
            effects.append(Audit("recording", None, {"state": str(after.state)}))
        return effects

    def _reject(
        self,
        connection: ConnectionId,
        member: Member,
        code: str,
        text: str,
        detail: dict[str, str] | None = None,
    ) -> list[Effect]:
        error = ErrorMessage(code=code, message=text)
        return [Send(connection, error), Audit(code, member.peer.id, detail or {})]


def _state_of(peer: PeerId, state: StateUpdate) -> PeerStateChanged:
    return PeerStateChanged(peer=peer, audio=state.audio, video=state.video, screen=state.screen)
