"""A routed session through the real server (issue 11): the signaling socket, the room on its
owner node and the `media` peer that forwards. Every member is a real aiortc peer on loopback that
answers `media`'s offers (it never offers to `media`) and tells whose picture it decoded by its
grey level."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections import Counter

import httpx
import pytest
from aiortc import (
    AudioStreamTrack,
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from websockets.exceptions import ConnectionClosed

from server.infra.roles import Role, User
from signaling import (
    MEDIA_PEER,
    ErrorMessage,
    Join,
    MediaMode,
    PeerJoined,
    ServerMessage,
    SessionDescription,
    Signal,
    SignalRelay,
    Welcome,
    parse_server_message,
)
from tests.media.support import GreyVideo, loopback_ice, luma_of
from tests.rooms.client import SignalingClient, signaling
from tests.support import RunningServer, wait_for

pytestmark = pytest.mark.timeout(90)


class RoutedMember:
    """One member's page, as aiortc: answers each offer of `media`, counts what it decodes."""

    def __init__(self, client: SignalingClient, luma: int | None) -> None:
        self.client = client
        self.luma = luma
        self.pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
        self.pc.on("track", self._on_track)
        self.welcome: Welcome | None = None
        self.messages: list[ServerMessage] = []
        self.offers: list[str] = []
        self.lumas: Counter[int] = Counter()
        self.audio_frames = 0
        self._tasks: list[asyncio.Task[None]] = []

    async def join(self) -> Welcome:
        await self.client.send(Join())
        self._tasks.append(asyncio.create_task(self._read()))
        await wait_for(self._welcomed, timeout=5)
        assert self.welcome is not None
        return self.welcome

    async def _welcomed(self) -> bool:
        return self.welcome is not None

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                message = parse_server_message(await self.client.ws.recv())
                self.messages.append(message)
                if isinstance(message, Welcome):
                    self.welcome = message
                elif isinstance(message, SignalRelay) and message.description is not None:
                    assert message.from_ == MEDIA_PEER
                    assert message.description.type == "offer"
                    await self._answer(message.description.sdp)

    async def _answer(self, sdp: str) -> None:
        self.offers.append(sdp)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
        senders = self.pc.getSenders()
        if self.luma is not None and senders and not senders[0].track:
            self.pc.addTrack(AudioStreamTrack())
            self.pc.addTrack(GreyVideo(self.luma))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        answer = SessionDescription(type="answer", sdp=self.pc.localDescription.sdp)
        await self.client.send(Signal(to=MEDIA_PEER, description=answer))

    def _on_track(self, track: MediaStreamTrack) -> None:
        self._tasks.append(asyncio.create_task(self._decode(track)))

    async def _decode(self, track: MediaStreamTrack) -> None:
        with contextlib.suppress(Exception):
            while True:
                frame = await track.recv()
                if track.kind == "audio":
                    self.audio_frames += 1
                else:
                    self.lumas[round(luma_of(frame) / 10) * 10] += 1

    def sees(self, *lumas: int) -> bool:
        return all(self.lumas[luma] >= 5 for luma in lumas)

    def errors(self) -> list[ErrorMessage]:
        return [m for m in self.messages if isinstance(m, ErrorMessage)]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.pc.close()


def stream_ids(offer: str) -> set[str]:
    """The msid stream ids of the m-lines `media` sends on: whose track each one carries."""
    ids = set()
    for section in offer.split("\r\nm=")[1:]:
        found = re.search(r"^a=msid:(\S+) ", section, re.M)
        if found and re.search(r"^a=sendonly", section, re.M):
            ids.add(found.group(1))
    return ids


async def routed_session(server: RunningServer, mentor: User, trainees: list[User]) -> str:
    http = await server.signed_in(mentor)
    try:
        created = await http.post(
            "/api/sessions",
            json={
                "title": "Ward round",
                "trainee_ids": [t.id for t in trainees],
                "media_mode": "routed",
            },
        )
        assert created.status_code == 201, created.text
        assert created.json()["media_mode"] == "routed"
        session_id: str = created.json()["id"]
        return session_id
    finally:
        await http.aclose()


async def test_three_members_receive_each_other_and_an_observer_only_receives(
    server: RunningServer,
) -> None:
    mentor = await server.user(Role.MENTOR)
    ana, ben = await server.user(Role.TRAINEE), await server.user(Role.TRAINEE)
    supervisor = await server.user(Role.SUPERVISOR)
    await server.services.accounts.assign(supervisor.id, ana.id, actor_id=None)
    session_id = await routed_session(server, mentor, [ana, ben])
    https: list[httpx.AsyncClient] = [
        await server.signed_in(user) for user in (mentor, ana, ben, supervisor)
    ]
    members: list[RoutedMember] = []
    try:
        with loopback_ice():
            async with contextlib.AsyncExitStack() as stack:
                for http, luma in zip(https, (60, 120, 180, None), strict=True):
                    client = await stack.enter_async_context(signaling(server, session_id, http))
                    members.append(RoutedMember(client, luma))
                mentor_page, ana_page, ben_page, observer = members
                for page in (mentor_page, ana_page, ben_page):
                    assert (await page.join()).media_mode is MediaMode.ROUTED

                async def all_see_each_other() -> bool:
                    return (
                        mentor_page.sees(120, 180)
                        and ana_page.sees(60, 180)
                        and ben_page.sees(60, 120)
                    )

                await wait_for(all_see_each_other, timeout=30)
                assert all(page.audio_frames > 0 for page in (mentor_page, ana_page, ben_page))
                # Each forwarded m-line names its publisher: the page's tile for that member.
                welcome = ben_page.welcome
                assert welcome is not None
                others = {p.id for p in welcome.peers}
                assert stream_ids(ben_page.offers[-1]) == others
                assert not any(page.errors() for page in members[:3])

                # The supervisor assigned to Ana observes: receives everyone, publishes nothing.
                joined = await observer.join()
                assert joined.media_mode is MediaMode.ROUTED

                async def observer_sees_everyone() -> bool:
                    return observer.sees(60, 120, 180)

                await wait_for(observer_sees_everyone, timeout=30)
                seen_by_mentor = [m.peer for m in mentor_page.messages if isinstance(m, PeerJoined)]
                assert [p.observer for p in seen_by_mentor] == [False, False, True]

                # Trying to publish anyway is refused, with a reason a person can act on.
                observer.pc.addTrack(GreyVideo(240))
                await observer.pc.setLocalDescription(await observer.pc.createOffer())
                offer = SessionDescription(type="offer", sdp=observer.pc.localDescription.sdp)
                await observer.client.send(Signal(to=MEDIA_PEER, description=offer))

                async def refused() -> bool:
                    return any(e.code == "observer-cannot-publish" for e in observer.errors())

                await wait_for(refused, timeout=5)
                [error] = observer.errors()
                assert "Observers receive the session" in error.message
                # Nobody received anything from the observer.
                assert set(mentor_page.lumas) == {120, 180}
                assert set(ana_page.lumas) == {60, 180}
                assert set(ben_page.lumas) == {60, 120}
    finally:
        for page in members:
            await page.close()
        for http in https:
            await http.aclose()


@pytest.mark.postgres
@pytest.mark.redis
async def test_members_on_two_nodes_meet_in_the_owner_nodes_media(
    nodes: tuple[RunningServer, RunningServer],
) -> None:
    """The room's media runs on its owner node; a member connected to the other node negotiates
    with it through the bus."""
    a, b = nodes
    mentor, trainee = await a.user(Role.MENTOR), await a.user(Role.TRAINEE)
    session_id = await routed_session(a, mentor, [trainee])
    mentor_http, trainee_http = await a.signed_in(mentor), await b.signed_in(trainee)
    pages: list[RoutedMember] = []
    try:
        with loopback_ice():
            async with (
                signaling(a, session_id, mentor_http) as on_a,
                signaling(b, session_id, trainee_http) as on_b,
            ):
                pages += [RoutedMember(on_a, 60), RoutedMember(on_b, 180)]
                for page in pages:
                    assert (await page.join()).media_mode is MediaMode.ROUTED

                async def both_see() -> bool:
                    return pages[0].sees(180) and pages[1].sees(60)

                await wait_for(both_see, timeout=30)
    finally:
        for page in pages:
            await page.close()
        await mentor_http.aclose()
        await trainee_http.aclose()


async def test_bad_signals_to_media_are_answered_clearly(server: RunningServer) -> None:
    """An answer aiortc cannot parse, a description that is no answer, and `media` in a direct
    session: each gets an `error` the page can show, and the member stays."""
    mentor = await server.user(Role.MENTOR)
    routed = await routed_session(server, mentor, [])
    http = await server.signed_in(mentor)
    created = await http.post("/api/sessions", json={"title": "Clinic", "media_mode": "direct"})
    direct = created.json()["id"]
    try:
        with loopback_ice():
            async with signaling(server, routed, http) as client:
                await client.send(Join())
                relay = await client.expect(SignalRelay, timeout=10)
                assert relay.from_ == MEDIA_PEER
                garbage = SessionDescription(type="answer", sdp="v=0\r\nm=video x\r\n")
                await client.send(Signal(to=MEDIA_PEER, description=garbage))
                error = await client.expect(ErrorMessage)
                assert error.code == "bad-sdp"
                assert error.message == "Your browser's answer could not be read."
                rollback = SessionDescription(type="rollback")
                await client.send(Signal(to=MEDIA_PEER, description=rollback))
                error = await client.expect(ErrorMessage)
                assert error.code == "wrong-state"
                assert "Answer its offer instead" in error.message
            async with signaling(server, direct, http) as client:
                await client.send(Join())
                await client.expect(Welcome)
                await client.send(Signal(to=MEDIA_PEER, description=garbage))
                assert (await client.expect(ErrorMessage)).code == "unknown-peer"
    finally:
        await http.aclose()
