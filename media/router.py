"""The media port: the `media` peer of every routed room, as the room hub will drive it.

    router = MediaRouter(config, on_event)
    offer = await router.join(room, member)        # media offers; send it to the member
    await router.answer(room, member, sdp)         # the member's answer (to every media offer)
    await router.candidate(room, member, candidate)
    router.set_rules(room, ForwardingRules(...))   # who receives whose tracks
    router.set_origin(room, started_wall)          # minute 0 of the room's speaking time
    tap = router.tap(room, member, sink)           # a recorder gets the member's packets
    await router.leave(room, member); await router.close()

`on_event` gets `MediaOffer` (renegotiation: new or gone tracks) and `MediaFailure` (ICE timed
out, the connection failed) addressed to members, and `SpeakingTime` for the room (every
`speaking_flush_s`, and when the room ends); it must not block (the hub queues them).
Deliver `join`'s returned offer before any event that comes after it.

A member that rebuilds its connection (`join` again; after a `CONNECTION_FAILED` failure, within
`ice_timeout_s`) gets a fresh offer, and the other members are not renegotiated: their m-lines
for its tracks stay, and carry the new connection's tracks of the same kinds (same SSRC,
sequence numbers running on, from a keyframe). Only a kind it no longer sends is renegotiated.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from aiortc.sdp import SessionDescription

from media.capacity import admit, planned
from media.config import MediaConfig
from media.connection import MemberConnection, TrackKey
from media.errors import MediaError, MediaErrorCode, mapped
from media.events import MediaEvent, MediaFailure, MediaOffer, SpeakingTime
from media.forwarding import Negotiated, PublishedTrack, RtpSink, Subscription
from media.hooks import check_hook_points
from media.link import Link
from media.rules import ForwardingRules, Kind
from media.speaking import SpeakingTally
from signaling.ids import PeerId, SessionId
from signaling.messages import IceCandidate


@dataclass(frozen=True)
class TrackStats:
    publisher: PeerId
    mid: str
    kind: str
    received: int
    keyframe_requests: int


@dataclass(frozen=True)
class ForwardStats:
    publisher: PeerId
    kind: str
    viewer: PeerId
    sent: int
    queued: int
    dropped: int
    retransmitted: int


@dataclass
class _Room:
    rules: ForwardingRules = field(default_factory=ForwardingRules)
    members: dict[PeerId, MemberConnection] = field(default_factory=dict)
    # Per publisher, the sinks tapping its tracks; the same list is each of its tracks' `taps`.
    taps: dict[PeerId, list[RtpSink]] = field(default_factory=dict)
    # Until told the session's start (`set_origin`), minutes count from the room's first use.
    speaking: SpeakingTally = field(default_factory=lambda: SpeakingTally(time.time()))
    # Per member whose connection was replaced (`join` again) or broke after it was up, the
    # tracks of that connection, by kind: the viewers keep their m-lines and subscriptions for
    # them until the new connection publishes the kind again (they follow it, see `_adopt`),
    # answers without it, or the member goes (leaves, its new connection times out, or it
    # does not rebuild a broken one within `ice_timeout_s`); then they are released.
    reserved: dict[PeerId, dict[Kind, PublishedTrack]] = field(default_factory=dict)


class Tap:
    """A sink's hold on one member's published tracks (see `MediaRouter.tap`)."""

    def __init__(self, room: _Room, member: PeerId, sink: RtpSink) -> None:
        self._room, self._member, self._sink = room, member, sink

    def request_keyframe(self) -> None:
        """Ask the member for a video keyframe (a recording starts at one)."""
        connection = self._room.members.get(self._member)
        for track in connection.published.values() if connection else ():
            track.request_keyframe()

    def kinds(self) -> set[str]:
        """What the member publishes now."""
        connection = self._room.members.get(self._member)
        return {t.kind for t in connection.published.values()} if connection else set()

    def close(self) -> None:
        sinks = self._room.taps.get(self._member, [])
        if self._sink in sinks:
            sinks.remove(self._sink)


class _RoomWiring:
    """A connection's callbacks, bound to its room."""

    def __init__(self, router: MediaRouter, room_id: SessionId) -> None:
        self._router, self._room_id = router, room_id

    def published(self, connection: MemberConnection, track: PublishedTrack) -> None:
        room = self._router._rooms.get(self._room_id)
        if room is not None:
            track.taps = room.taps.setdefault(track.owner, [])
            if track.kind == "audio":
                track.speech = room.speaking.add
            self._router._adopt(room, track)
        self._router._reconcile(self._room_id)

    def sending(
        self, connection: MemberConnection, key: TrackKey, ssrc: int, negotiated: Negotiated
    ) -> None:
        self._router._subscribe(self._room_id, connection, key, ssrc, negotiated)

    def state_changed(self, connection: MemberConnection, state: str) -> None:
        if state == "failed":
            error = MediaError(
                MediaErrorCode.CONNECTION_FAILED,
                "The media connection was lost. Check your network; the page reconnects.",
            )
            self._router._spawn(self._router._fail(self._room_id, connection, error))


class MediaRouter:
    def __init__(self, config: MediaConfig, on_event: Callable[[MediaEvent], None]) -> None:
        check_hook_points()
        self.config = config
        self._on_event = on_event
        self._rooms: dict[SessionId, _Room] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._watchdogs: dict[tuple[SessionId, PeerId], asyncio.Task[None]] = {}
        # Members whose connection broke, reserved until they rebuild it or this runs out.
        self._expiries: dict[tuple[SessionId, PeerId], asyncio.Task[None]] = {}
        self._ticker: asyncio.Task[None] | None = None
        self._closed = False

    # --- the port ---------------------------------------------------------------------------

    async def join(self, room_id: SessionId, member_id: PeerId) -> str:
        """Bring `member_id` into the room's media; returns media's offer for it. Joining again
        replaces the member's connection (a client that rebuilt its own after a network change)
        and its subscriptions come back without other members renegotiating."""
        if self._closed:
            raise MediaError(MediaErrorCode.CLOSED, "The media service is shutting down.")
        room = self._rooms.setdefault(room_id, _Room())
        self._forget_expiry(room_id, member_id)  # back: its new connection's watchdog decides
        old = room.members.pop(member_id, None)
        if old is not None:
            self._reserve(room, old)
            await self._drop(room_id, old)
        try:
            self._admit(room, member_id)
        except MediaError:
            self._release(room_id, member_id)
            raise
        connection = MemberConnection(
            member_id,
            room.rules.may_publish(member_id),
            self.config,
            _RoomWiring(self, room_id),
        )
        room.members[member_id] = connection
        try:
            async with connection.lock:
                if connection.may_publish:
                    connection.receive_own("audio")
                    connection.receive_own("video")
                self._reconcile(room_id, offering=connection)
                offer = await connection.make_offer()
        except BaseException:
            await self._remove(room_id, connection)
            raise
        assert offer is not None
        self._watchdogs[(room_id, member_id)] = self._spawn(self._watch(room_id, connection))
        if self._ticker is None:
            self._ticker = asyncio.create_task(self._report_upstream())
        return offer

    async def answer(self, room_id: SessionId, member_id: PeerId, sdp: str) -> None:
        connection = self._connection(room_id, member_id)
        async with connection.lock:
            await connection.accept_answer(sdp)
        room = self._rooms.get(room_id)
        reserved = room.reserved.get(member_id) if room else None
        if reserved and room is not None and room.members.get(member_id) is connection:
            # Back without a kind it published before (the camera is off now): its viewers'
            # m-lines for it go (one renegotiation each); the kinds it sends come back by `_adopt`.
            unused = set(reserved) - connection.publishing()
            if unused:
                self._release(room_id, member_id, unused)
        if connection.changed:
            self._spawn(self._renegotiate(room_id, connection))

    async def offer(self, room_id: SessionId, member_id: PeerId, sdp: str) -> str:
        """A member's own offer. The `media` peer makes every offer (see media/connection.py),
        so this only explains why it is refused."""
        connection = self._connection(room_id, member_id)
        with mapped(MediaErrorCode.BAD_SDP, "Your browser's offer could not be read."):
            description = SessionDescription.parse(sdp)
        sends = any(
            m.kind in ("audio", "video") and m.direction in ("sendrecv", "sendonly")
            for m in description.media
        )
        if sends and not connection.may_publish:
            raise MediaError(
                MediaErrorCode.OBSERVER_CANNOT_PUBLISH,
                "Observers receive the session but do not send audio or video. "
                "Turn your camera and microphone off to observe.",
            )
        raise MediaError(
            MediaErrorCode.WRONG_STATE,
            "The media peer makes the offers in a routed session. Answer its offer instead.",
        )

    async def candidate(
        self, room_id: SessionId, member_id: PeerId, candidate: IceCandidate
    ) -> None:
        await self._connection(room_id, member_id).add_candidate(candidate)

    def set_rules(self, room_id: SessionId, rules: ForwardingRules) -> None:
        room = self._rooms.setdefault(room_id, _Room())
        room.rules = rules
        for member_id, connection in room.members.items():
            connection.may_publish = rules.may_publish(member_id)
        self._reconcile(room_id)

    def set_origin(self, room_id: SessionId, started_wall: float) -> None:
        """Wall-clock seconds at the session's start: minute 0 of its speaking time."""
        self._rooms.setdefault(room_id, _Room()).speaking.origin = started_wall

    def tap(self, room_id: SessionId, member_id: PeerId, sink: RtpSink) -> Tap:
        """Give `sink` every packet `member_id` publishes in the room, from now until the tap
        is closed, across the member's reconnections (its new tracks are tapped too)."""
        room = self._rooms.setdefault(room_id, _Room())
        sinks = room.taps.setdefault(member_id, [])
        sinks.append(sink)
        connection = room.members.get(member_id)
        for track in connection.published.values() if connection else ():
            track.taps = sinks
        return Tap(room, member_id, sink)

    async def leave(self, room_id: SessionId, member_id: PeerId) -> None:
        room = self._rooms.get(room_id)
        connection = room.members.get(member_id) if room else None
        if connection is not None:
            await self._remove(room_id, connection)
        else:  # its connection broke and was not rebuilt: nothing of it is coming back
            self._forget_expiry(room_id, member_id)
            self._release(room_id, member_id)

    async def end(self, room_id: SessionId) -> None:
        """The session ended: every member's media goes, and the room's rules with it."""
        room = self._rooms.get(room_id)
        if room is not None:
            for connection in list(room.members.values()):
                await self._remove(room_id, connection)
            for member_id in list(room.reserved):
                self._forget_expiry(room_id, member_id)
                for track in room.reserved.pop(member_id).values():
                    track.close()
            self._rooms.pop(room_id, None)
            self._report_speech(room_id, room)

    async def close(self) -> None:
        self._closed = True
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        for room_id in list(self._rooms):
            await self.end(room_id)
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- what the router knows (metrics, tests, the benchmark) ------------------------------

    def stats(self, room_id: SessionId) -> tuple[list[TrackStats], list[ForwardStats]]:
        tracks: list[TrackStats] = []
        forwards: list[ForwardStats] = []
        room = self._rooms.get(room_id)
        for connection in room.members.values() if room else ():
            for track in connection.published.values():
                tracks.append(
                    TrackStats(
                        track.owner, track.mid, track.kind, track.received, track.keyframe_requests
                    )
                )
                for sub in track.subscriptions.values():
                    forwards.append(
                        ForwardStats(
                            track.owner,
                            track.kind,
                            sub.viewer,
                            sub.sent,
                            len(sub.backlog.packets),
                            sub.backlog.dropped,
                            sub.retransmitted,
                        )
                    )
        return tracks, forwards

    def link(self, room_id: SessionId, member_id: PeerId) -> Link | None:
        """The member's outgoing path (its sink is a seam for tests)."""
        room = self._rooms.get(room_id)
        connection = room.members.get(member_id) if room else None
        return connection.link if connection else None

    # --- inside -----------------------------------------------------------------------------

    def _connection(self, room_id: SessionId, member_id: PeerId) -> MemberConnection:
        room = self._rooms.get(room_id)
        connection = room.members.get(member_id) if room else None
        if connection is None:
            raise MediaError(
                MediaErrorCode.NOT_JOINED,
                "You have no media connection in this session. Reload the page to rejoin.",
            )
        return connection

    def streams(self) -> int:
        """Forwarded streams (a publisher's track to one viewer) the node carries or has
        promised: every publishing member counted with audio and video, as it may publish."""
        return sum(planned(room.rules, room.members) for room in self._rooms.values())

    def _admit(self, room: _Room, member_id: PeerId) -> None:
        """Refuse a member whose streams would take the node past `max_streams`, so that
        the rooms it carries keep theirs (DESIGN.md §3: an overloaded loop drops them all)."""
        limit = self.config.max_streams
        if limit is not None:
            admit(room.rules, room.members, member_id, carried=self.streams(), limit=limit)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _reserve(self, room: _Room, old: MemberConnection) -> None:
        """`old` is being replaced by the member's rebuilt connection: keep its tracks (and
        every viewer's m-line and subscription for them) until the new one publishes again."""
        if not old.published or not room.rules.may_publish(old.member):
            return
        reserved = room.reserved.setdefault(old.member, {})
        for track in old.published.values():
            slot = f"reserved-{track.kind}"  # never an SDP mid: no clash with the new tracks'
            previous = reserved.pop(track.kind, None)
            for viewer in room.members.values():
                if previous is not None:
                    viewer.stop_sending((old.member, slot))
                viewer.rename_outgoing((old.member, track.mid), (old.member, slot))
            if previous is not None:
                previous.close()
            track.mid = slot
            reserved[track.kind] = track
        old.published = {}  # closing `old` must not close them

    def _adopt(self, room: _Room, track: PublishedTrack) -> None:
        """`track` is published by a member's rebuilt connection: the viewers of its reserved
        track of the same kind follow it on the m-lines they have (no renegotiation)."""
        reserved = room.reserved.get(track.owner)
        previous = reserved.pop(track.kind, None) if reserved is not None else None
        if not reserved:
            room.reserved.pop(track.owner, None)
        if previous is None:
            return
        for viewer in room.members.values():
            viewer.rename_outgoing((track.owner, previous.mid), (track.owner, track.mid))
        previous.hand_over(track)

    def _release(
        self, room_id: SessionId, member_id: PeerId, kinds: set[Kind] | None = None
    ) -> None:
        """The member's reserved tracks of `kinds` (all if None) will not come back: their
        viewers' m-lines go (`_reconcile` stops them)."""
        room = self._rooms.get(room_id)
        reserved = room.reserved.get(member_id) if room else None
        if room is None or reserved is None:
            return
        for kind in list(reserved) if kinds is None else kinds:
            track = reserved.pop(kind, None)
            if track is not None:
                track.close()
        if not reserved:
            del room.reserved[member_id]
        self._reconcile(room_id)

    def _track(self, room: _Room, key: TrackKey) -> PublishedTrack | None:
        """A published or reserved track by its key (publisher, mid or reserved slot)."""
        publisher = room.members.get(key[0])
        track = publisher.published.get(key[1]) if publisher else None
        if track is None:
            reserved = room.reserved.get(key[0], {})
            track = next((t for t in reserved.values() if t.mid == key[1]), None)
        return track

    def _reconcile(self, room_id: SessionId, offering: MemberConnection | None = None) -> None:
        """Make every member's outgoing m-lines match the rules; renegotiate what changed."""
        room = self._rooms.get(room_id)
        if room is None:
            return
        tracks = [t for c in room.members.values() for t in c.published.values()]
        tracks += [t for reserved in room.reserved.values() for t in reserved.values()]
        for viewer in room.members.values():
            wanted = {
                (t.owner, t.mid): t
                for t in tracks
                if room.rules.receives(viewer.member, t.owner, t.kind)
            }
            for key in list(viewer.outgoing):
                if key not in wanted:
                    self._unsubscribe(room, viewer, key)
                    viewer.stop_sending(key)
            for key, track in wanted.items():
                if key not in viewer.outgoing and (
                    len(viewer.outgoing) < self.config.max_tracks_per_member
                ):
                    viewer.send_track(key, track.kind)
            if viewer.changed and viewer is not offering and not viewer.closed:
                self._spawn(self._renegotiate(room_id, viewer))

    def _subscribe(
        self,
        room_id: SessionId,
        viewer: MemberConnection,
        key: TrackKey,
        ssrc: int,
        negotiated: Negotiated,
    ) -> None:
        room = self._rooms.get(room_id)
        track = self._track(room, key) if room else None
        if room is None or track is None or viewer.link is None:
            return
        if not room.rules.receives(viewer.member, track.owner, track.kind):
            return
        subscription = Subscription(
            viewer=viewer.member,
            track=track,
            link=viewer.link,
            ssrc=ssrc,
            negotiated=negotiated,
            backlog_packets=self.config.backlog_packets,
        )
        track.subscriptions[viewer.member] = subscription
        viewer.subscriptions[ssrc] = subscription
        # A new viewer can decode nothing until the next keyframe: ask for one now.
        track.request_keyframe()

    def _unsubscribe(self, room: _Room, viewer: MemberConnection, key: TrackKey) -> None:
        track = self._track(room, key)
        if track is not None:
            subscription = track.subscriptions.pop(viewer.member, None)
            if subscription is not None:
                subscription.close()

    async def _renegotiate(self, room_id: SessionId, connection: MemberConnection) -> None:
        async with connection.lock:
            try:
                sdp = await connection.make_offer()
            except MediaError as error:
                await self._fail(room_id, connection, error)
                return
        if sdp is not None:
            self._on_event(MediaOffer(room_id, connection.member, sdp))

    async def _watch(self, room_id: SessionId, connection: MemberConnection) -> None:
        try:
            await asyncio.wait_for(connection.connected.wait(), self.config.ice_timeout_s)
        except TimeoutError:
            error = MediaError(
                MediaErrorCode.ICE_TIMEOUT,
                "Your media connection could not be set up. "
                "Check that your network allows calls (UDP), then rejoin.",
            )
            await self._fail(room_id, connection, error)

    async def _fail(
        self, room_id: SessionId, connection: MemberConnection, error: MediaError
    ) -> None:
        room = self._rooms.get(room_id)
        if room is None or room.members.get(connection.member) is not connection:
            return
        if error.code is not MediaErrorCode.CONNECTION_FAILED:
            self._on_event(MediaFailure(room_id, connection.member, error))
            await self._remove(room_id, connection)
            return
        # It was up and broke (a network change): the member rebuilds it (told by this failure,
        # the media driver offers again) and its viewers keep their m-lines meanwhile; one that
        # has not rebuilt it within `ice_timeout_s` is released.
        del room.members[connection.member]
        self._reserve(room, connection)
        self._forget_expiry(room_id, connection.member)
        key = (room_id, connection.member)
        self._expiries[key] = self._spawn(self._expire(room_id, connection.member))
        self._reconcile(room_id)
        self._on_event(MediaFailure(room_id, connection.member, error))
        await self._drop(room_id, connection)

    async def _expire(self, room_id: SessionId, member_id: PeerId) -> None:
        await asyncio.sleep(self.config.ice_timeout_s)
        self._expiries.pop((room_id, member_id), None)
        room = self._rooms.get(room_id)
        if room is not None and member_id not in room.members:
            self._release(room_id, member_id)

    def _forget_expiry(self, room_id: SessionId, member_id: PeerId) -> None:
        expiry = self._expiries.pop((room_id, member_id), None)
        if expiry is not None and expiry is not asyncio.current_task():
            expiry.cancel()

    async def _remove(self, room_id: SessionId, connection: MemberConnection) -> None:
        room = self._rooms.get(room_id)
        if room is not None and room.members.get(connection.member) is connection:
            del room.members[connection.member]
            # Gone, not rebuilding: what it published before a rebuild is not coming back.
            self._forget_expiry(room_id, connection.member)
            for track in room.reserved.pop(connection.member, {}).values():
                track.close()
            # The room (and its rules: who observes) stays until `end`, even when empty.
            self._reconcile(room_id)
        await self._drop(room_id, connection)

    async def _drop(self, room_id: SessionId, connection: MemberConnection) -> None:
        watchdog = self._watchdogs.pop((room_id, connection.member), None)
        if watchdog is not None and watchdog is not asyncio.current_task():
            watchdog.cancel()
        room = self._rooms.get(room_id)
        if room is not None:
            tracks = [t for c in room.members.values() for t in c.published.values()]
            tracks += [t for reserved in room.reserved.values() for t in reserved.values()]
            for track in tracks:
                track.subscriptions.pop(connection.member, None)
        with contextlib.suppress(MediaError):
            await connection.close()

    def _report_speech(self, room_id: SessionId, room: _Room) -> None:
        if room.speaking:
            self._on_event(SpeakingTime(room_id, room.speaking.drain()))

    async def _report_upstream(self) -> None:
        """Receiver reports and bandwidth estimates to every publisher (RFC 3550 §6.4.2),
        and each room's speaking time every `speaking_flush_s`."""
        spoken_at = time.monotonic()
        while True:
            await asyncio.sleep(self.config.rtcp_interval_s)
            if time.monotonic() - spoken_at >= self.config.speaking_flush_s:
                spoken_at = time.monotonic()
                for room_id, room in list(self._rooms.items()):
                    self._report_speech(room_id, room)
            for room in list(self._rooms.values()):
                for connection in list(room.members.values()):
                    if connection.link is None:
                        continue
                    for track in connection.published.values():
                        report = track.report()
                        if report:
                            connection.link.send_rtcp(report)
