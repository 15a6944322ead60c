"""The media driver: runs the `media` peer of the routed rooms this node owns (DESIGN.md §3).

The room hub runs each room on its owner node (see `server.live.rooms.directory`) and hands this
driver the room's media effects there, so a room's media lives on the node that runs the room;
members connected to other nodes reach it through the hub's bus like any other room traffic.

Each room's effects are carried out in order by one task of the room (a bounded queue: a flood
is refused with an error, never buffered without limit), against one `MediaRouter` for the node,
built when the first routed room needs it. What the router says back (`media`'s renegotiation
offers, failures) goes to the member as `signal {from: "media"}` or `error`; the speaking time
it reports is stored by person (the hub says who each member is) through one writer task.

`media`'s offers name each forwarded track's publisher: the msid stream id of every m-line that
carries a member's audio or video is that member's peer id (see `media.connection`), so a page
maps `RTCTrackEvent.streams[0].id` to a tile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

from media import (
    ForwardingRules,
    MediaConfig,
    MediaError,
    MediaErrorCode,
    MediaEvent,
    MediaFailure,
    MediaOffer,
    MediaRouter,
    SpeakingTime,
    SpeechMinute,
)
from server.infra.storage.speaking import SpeakingMinute, SpeakingStore
from server.live.media.port import RecordingFailed, ToMember, WhoIs
from server.live.recording import Recordings
from signaling import (
    MEDIA_PEER,
    ErrorMessage,
    MediaEffect,
    MediaEnd,
    MediaJoin,
    MediaLeave,
    MediaSignal,
    PeerId,
    RecordingState,
    ServerMessage,
    SessionDescription,
    SessionId,
    SignalRelay,
)

__all__ = ["MediaDriver"]

log = logging.getLogger("preceptor.media")

QUEUE_SIZE = 256
"""Media effects waiting per room: a join and a few dozen candidates per member at most."""
STORE_WAIT_S = 5.0
"""At shutdown, how long the last speaking time may take to be stored."""
IDLE_S = 60.0
"""An empty room's task ends after this long without work."""
SPEAKING_BACKLOG = 64
"""Speaking-time reports waiting to be stored (one per room every few seconds): beyond it, the
database is away and the newest are dropped."""

_BUSY = MediaError(
    MediaErrorCode.WRONG_STATE,
    "The media service is too busy to take your request. Rejoin the session in a moment.",
)


@dataclass(frozen=True)
class _RecordingStep:
    """The room's recording state moved: carried out in order with its media effects."""

    session: SessionId
    state: RecordingState


@dataclass
class _Room:
    queue: asyncio.Queue[MediaEffect | _RecordingStep]
    task: asyncio.Task[None] | None = None
    members: set[PeerId] = field(default_factory=set)
    observers: set[PeerId] = field(default_factory=set)
    subjects: dict[PeerId, str] = field(default_factory=dict)  # who each member is


class MediaDriver:
    def __init__(
        self,
        config: MediaConfig,
        *,
        idle_s: float = IDLE_S,
        recordings: Recordings | None = None,
        speaking: SpeakingStore | None = None,
    ) -> None:
        self._config = config
        self._recordings = recordings
        self._speaking = speaking
        self._spoken: asyncio.Queue[list[SpeakingMinute]] = asyncio.Queue(SPEAKING_BACKLOG)
        self._writer: asyncio.Task[None] | None = None
        self._who: WhoIs | None = None
        self._recording_failed: RecordingFailed | None = None
        self._idle_s = idle_s
        self._router: MediaRouter | None = None
        self._to_member: ToMember | None = None
        self._rooms: dict[SessionId, _Room] = {}
        self._closed = False

    # --- the port ----------------------------------------------------------------------------

    def attach(
        self,
        to_member: ToMember,
        who: WhoIs | None = None,
        recording_failed: RecordingFailed | None = None,
    ) -> None:
        self._to_member = to_member
        self._who = who
        self._recording_failed = recording_failed

    def carry_out(self, effect: MediaEffect) -> None:
        if self._closed:
            return
        room = self._room(effect.session)
        try:
            room.queue.put_nowait(effect)
        except asyncio.QueueFull:
            log.warning("media queue full: a request was refused", extra={"room": effect.session})
            if isinstance(effect, MediaJoin | MediaSignal):
                self._error(effect.session, effect.peer, _BUSY)

    def recording_changed(self, session: SessionId, state: RecordingState) -> None:
        log.info("recording state changed", extra={"room": session, "state": str(state)})
        if self._recordings is None or self._closed:
            return
        # In order with the room's media effects: the members an `auto` room has just moved to
        # `media` are publishers by the time its recording starts (issue 12).
        room = self._room(session)
        try:
            room.queue.put_nowait(_RecordingStep(session, state))
        except asyncio.QueueFull:
            self._record(session, room, state)

    def _record(self, session: SessionId, room: _Room, state: RecordingState) -> None:
        if self._recordings is not None:
            # Recorders tap the members who publish (observers send nothing); issue 12.
            publishers = room.members - room.observers
            self._recordings.changed(
                session, state, self.router, publishers, lambda text: self._tell(session, text)
            )

    def _room(self, session: SessionId) -> _Room:
        room = self._rooms.get(session)
        if room is None:
            room = self._rooms[session] = _Room(asyncio.Queue(QUEUE_SIZE))
            room.task = asyncio.get_running_loop().create_task(
                self._work(session, room), name="media-room"
            )
        return room

    async def close(self) -> None:
        self._closed = True
        tasks = [room.task for room in self._rooms.values() if room.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._router is not None:
            # Its rooms' last speaking time comes out as it closes: stored before we stop.
            await self._router.close()
            self._router = None
        self._rooms.clear()
        if self._writer is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._spoken.join(), STORE_WAIT_S)
            self._writer.cancel()
            await asyncio.gather(self._writer, return_exceptions=True)

    # --- one room's work, in order ----------------------------------------------------------

    @property
    def router(self) -> MediaRouter:
        if self._router is None:
            self._router = MediaRouter(self._config, self._on_event)
        return self._router

    async def _work(self, session: SessionId, room: _Room) -> None:
        while True:
            try:
                effect = await asyncio.wait_for(room.queue.get(), self._idle_s)
            except TimeoutError:
                if room.members or not room.queue.empty():
                    continue
                # No await between this check and forgetting the room: a new effect for it
                # starts a new task.
                del self._rooms[session]
                return
            try:
                await self._step(session, room, effect)
            except MediaError as error:
                if not isinstance(effect, MediaEnd | _RecordingStep):
                    self._error(session, effect.peer, error)
            except Exception:
                log.exception("media step failed", extra={"room": session})
            if isinstance(effect, MediaEnd):
                self._rooms.pop(session, None)
                return

    async def _step(
        self, session: SessionId, room: _Room, effect: MediaEffect | _RecordingStep
    ) -> None:
        router = self.router
        match effect:
            case _RecordingStep(state=state):
                self._record(session, room, state)
            case MediaJoin(peer=peer, observer=observer):
                facts = self._who(session, peer) if self._who is not None else None
                if facts is not None:
                    room.subjects[peer] = facts.subject
                    router.set_origin(session, facts.session_started_at)
                room.members.add(peer)
                self._observe(session, room, peer, observer)
                try:
                    offer = await router.join(session, peer)
                except MediaError:
                    # Refused (the node is at capacity): it holds nothing here.
                    room.members.discard(peer)
                    self._observe(session, room, peer, False)
                    raise
                self._send(session, peer, _offer(offer))
            case MediaLeave(peer=peer):
                room.members.discard(peer)
                await router.leave(session, peer)
                self._observe(session, room, peer, False)
                if not room.members:
                    await router.end(session)
            case MediaSignal(peer=peer, description=description, candidate=candidate):
                if candidate is not None:
                    await router.candidate(session, peer, candidate)
                elif description is not None and description.type == "answer":
                    await router.answer(session, peer, description.sdp)
                elif description is not None and description.type == "offer":
                    # Refused, with the reason (an observer's camera, or media offers first).
                    await router.offer(session, peer, description.sdp)
                else:
                    raise MediaError(
                        MediaErrorCode.WRONG_STATE,
                        "The media peer makes the offers in a routed session. "
                        "Answer its offer instead.",
                    )
            case MediaEnd():
                room.members.clear()
                await router.end(session)

    def _observe(self, session: SessionId, room: _Room, peer: PeerId, observer: bool) -> None:
        """The room's forwarding rules follow who observes (the room decides; DESIGN.md §3)."""
        before = set(room.observers)
        if observer:
            room.observers.add(peer)
        else:
            room.observers.discard(peer)
        if room.observers != before:
            self.router.set_rules(session, ForwardingRules(observers=frozenset(room.observers)))

    # --- to members --------------------------------------------------------------------------

    def _on_event(self, event: MediaEvent) -> None:
        match event:
            case MediaOffer(room_id=session, member_id=peer, sdp=sdp):
                self._send(session, peer, _offer(sdp))
            case MediaFailure(room_id=session, member_id=peer, error=error):
                self._error(session, peer, error)
                room = self._rooms.get(session)
                if error.code is MediaErrorCode.CONNECTION_FAILED and room and peer in room.members:
                    # The connection was up and broke (a network change): offer a fresh one.
                    # A client that never connects (ICE timeout) is not offered again.
                    self.carry_out(MediaJoin(session, peer, peer in room.observers))
            case SpeakingTime(room_id=session, minutes=minutes):
                self._store_speech(session, minutes)

    # --- speaking time, stored by person ---------------------------------------------------------

    def _store_speech(self, session: SessionId, minutes: tuple[SpeechMinute, ...]) -> None:
        if self._speaking is None:
            return
        room = self._rooms.get(session)
        subjects = room.subjects if room else {}
        rows = [
            SpeakingMinute(session, subjects.get(m.member, m.member), m.minute, m.ms)
            for m in minutes
        ]
        try:
            self._spoken.put_nowait(rows)
        except asyncio.QueueFull:
            log.warning("speaking time dropped: the store is behind", extra={"room": session})
            return
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(
                self._write_speech(self._speaking), name="media-speaking"
            )

    async def _write_speech(self, store: SpeakingStore) -> None:
        while True:
            rows = await self._spoken.get()
            try:
                await store.add(rows)
            except Exception as error:  # the database is away: this report is lost
                log.warning("speaking time not stored: %s", type(error).__name__)
            finally:
                self._spoken.task_done()

    def _tell(self, session: SessionId, text: str) -> None:
        """A recorder stopped on its own: the room turns recording off, and its mentors hear
        why (issue 12: the others see the indicator go off)."""
        if self._recording_failed is not None:
            self._recording_failed(session, text)

    def _error(self, session: SessionId, peer: PeerId, error: MediaError) -> None:
        self._send(session, peer, ErrorMessage(code=error.code.value, message=error.message))

    def _send(self, session: SessionId, peer: PeerId, message: ServerMessage) -> None:
        if self._to_member is None:
            return
        try:
            self._to_member(session, peer, message)
        except Exception:
            log.exception("a message to a member failed", extra={"room": session})


def _offer(sdp: str) -> SignalRelay:
    return SignalRelay(from_=MEDIA_PEER, description=SessionDescription(type="offer", sdp=sdp))
