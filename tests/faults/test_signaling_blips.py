"""Signaling blips (issue 13): a member's network goes away for 2, 5 or 35 s, between its phone and
the server (our fault proxy), while the mentor's stays up.

The phone behaves as the call page does (web/static/call/socket.js): a ping every 5 s, a socket
that has been silent for 12 s is given up, and it reconnects (here every 0.25 s) with
`join {resume}`. The server pings every 5 s and gives up after 8 s more; a member whose socket
broke keeps its place for the resume grace (30 s), one lost silently for 8 s after it is noticed.

- inside the grace the member comes back as itself (same peer id) and the mentor never hears
  `peer-left`;
- after 35 s it has lost its place: the mentor heard one `peer-left {timeout}`, and one
  `peer-joined` when it came back as a new member;
- the mentor's roster never holds the member twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from server.infra.roles import Role
from signaling import (
    Chat,
    ChatPosted,
    Join,
    PeerId,
    PeerJoined,
    PeerLeft,
    Ping,
    ServerMessage,
    Welcome,
    parse_server_message,
    serialize,
)
from tests.faults.proxy import FaultProxy
from tests.rooms.client import SignalingClient, cookie_header, signaling
from tests.support import RunningServer, wait_for

PING_EVERY_S = 5.0  # the call page's
SILENCE_LIMIT_S = 12.0  # the call page's
RETRY_S = 0.25


@dataclass
class Phone:
    """A member's phone on the far side of the fault proxy, reconnecting as the call page does."""

    url: str
    origin: str
    cookie: str
    welcomes: list[tuple[float, Welcome]] = field(default_factory=list)
    chats: list[str] = field(default_factory=list)
    connections: int = 0
    _resume: str | None = None

    async def run(self) -> None:
        while True:
            try:
                async with connect(
                    self.url,
                    origin=self.origin,  # type: ignore[arg-type]
                    additional_headers={"Cookie": self.cookie},
                    compression=None,
                    open_timeout=2,
                    ping_interval=None,  # the page cannot ping at the WebSocket level
                ) as ws:
                    self.connections += 1
                    await ws.send(serialize(Join(resume=self._resume)))
                    await self._talk(ws)
            except Exception:  # refused, reset, timed out: as a page would, try again
                await asyncio.sleep(RETRY_S)
                continue
            await asyncio.sleep(RETRY_S)

    async def _talk(self, ws: ClientConnection) -> None:
        heard = time.monotonic()
        pinged = 0.0
        seq = 0
        while True:
            now = time.monotonic()
            if now - heard > SILENCE_LIMIT_S:
                return  # silent too long: give this socket up and open another
            if now - pinged >= PING_EVERY_S:
                seq += 1
                pinged = now
                await ws.send(serialize(Ping(id=str(seq))))
            try:
                frame = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            heard = time.monotonic()
            message = parse_server_message(frame)
            if isinstance(message, Welcome):
                self._resume = message.resume
                self.welcomes.append((heard, message))
            elif isinstance(message, ChatPosted):
                self.chats.append(message.text)


@dataclass
class Roster:
    """The mentor's view of the room, from what its socket hears; fails on a duplicate."""

    mentor: SignalingClient
    peers: dict[PeerId, str] = field(default_factory=dict)
    heard: list[tuple[float, ServerMessage]] = field(default_factory=list)
    duplicates: int = 0

    async def follow(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                message = parse_server_message(await self.mentor.ws.recv())
                self.heard.append((time.monotonic(), message))
                if isinstance(message, PeerJoined):
                    peer = message.peer
                    if peer.id in self.peers or peer.display_name in self.peers.values():
                        self.duplicates += 1
                    self.peers[peer.id] = peer.display_name
                elif isinstance(message, PeerLeft):
                    self.peers.pop(message.peer, None)

    def of(self, kind: type[ServerMessage]) -> list[tuple[float, ServerMessage]]:
        return [(at, m) for at, m in self.heard if isinstance(m, kind)]


@dataclass
class Call:
    server: RunningServer
    proxy: FaultProxy
    phone: Phone
    roster: Roster

    async def welcomed(self, count: int, timeout: float) -> Welcome:
        async def arrived() -> bool:
            return len(self.phone.welcomes) >= count

        await wait_for(arrived, timeout=timeout, interval=0.05)
        return self.phone.welcomes[count - 1][1]

    async def seen_by_mentor(self, peer: PeerId) -> None:
        async def seen() -> bool:
            return peer in self.roster.peers

        await wait_for(seen, timeout=5, interval=0.05)


@contextlib.asynccontextmanager
async def call(server: RunningServer) -> AsyncIterator[Call]:
    """A mentor (direct) and a listed trainee (through the proxy) in a live session."""
    mentor = await server.user(Role.MENTOR)
    trainee = await server.user(Role.TRAINEE)
    mentor_http = await server.signed_in(mentor)
    trainee_http = await server.signed_in(trainee)
    created = await mentor_http.post(
        "/api/sessions",
        json={"title": "Blips", "trainee_ids": [trainee.id], "media_mode": "direct"},
    )
    assert created.status_code == 201, created.text
    session_id = created.json()["id"]
    port = int(server.url.rsplit(":", 1)[1])
    async with (
        FaultProxy(port) as proxy,
        signaling(server, session_id, mentor_http) as mentor,
    ):
        await mentor.send(Join())
        welcome = await mentor.expect(Welcome)
        roster = Roster(mentor, {p.id: p.display_name for p in welcome.peers})
        phone = Phone(
            f"ws://127.0.0.1:{proxy.port}/ws/sessions/{session_id}",
            server.url,
            cookie_header(trainee_http),
        )
        tasks = [asyncio.create_task(roster.follow()), asyncio.create_task(phone.run())]
        try:
            yield Call(server, proxy, phone, roster)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    for http in (mentor_http, trainee_http):
        await http.aclose()


async def network_away(proxy: FaultProxy, seconds: float, how: str) -> None:
    """The phone's network goes away for ``seconds``; no new connection gets through meanwhile.
    ``silent``: bytes are held, nothing is closed, and the same path comes back (a Wi-Fi
    hiccup); ``silent-new-path``: the same, but the old connections are gone when it returns
    (a phone that moved to another network); ``cut``: every connection is reset at once."""
    proxy.refuse = True
    if how == "cut":
        proxy.cut()
    else:
        proxy.pause()
    await asyncio.sleep(seconds)  # the fault lasts this long: nothing to wait for but time
    if how == "silent-new-path":
        proxy.cut()
    proxy.resume()
    proxy.refuse = False


@pytest.mark.parametrize(
    ("seconds", "how"),
    [(2.0, "silent"), (5.0, "silent"), (5.0, "silent-new-path"), (2.0, "cut"), (5.0, "cut")],
)
async def test_a_blip_inside_the_grace_keeps_the_same_member(
    server: RunningServer, seconds: float, how: str
) -> None:
    async with call(server) as c:
        first = await c.welcomed(1, timeout=10)
        await c.seen_by_mentor(first.peer)
        away = asyncio.create_task(network_away(c.proxy, seconds, how))
        await c.roster.mentor.send(Chat(text="said during the blip"))
        await away
        back_at = time.monotonic()
        if how == "silent":
            # Shorter than either side's silence limit: the socket lives through it.
            resumed_after = 0.0
        else:
            again = await c.welcomed(2, timeout=15)
            resumed_after = c.phone.welcomes[1][0] - back_at
            assert (again.peer, again.resumed) == (first.peer, True)
        # The room works both ways again.
        await c.roster.mentor.send(Chat(text="still there?"))

        async def heard_after() -> bool:
            return "still there?" in c.phone.chats

        await wait_for(heard_after, timeout=5)
        if how == "silent":
            assert "said during the blip" in c.phone.chats  # held, then delivered
            assert (c.phone.connections, len(c.phone.welcomes)) == (1, 1)
        assert c.roster.of(PeerLeft) == []
        assert c.roster.duplicates == 0
        assert list(c.roster.peers) == [first.peer]
        print(f"\n{seconds:.0f} s {how}: member back {resumed_after:.2f} s after the network")


@pytest.mark.slow
async def test_a_35_s_blip_rejoins_as_a_new_member_once(server: RunningServer) -> None:
    async with call(server) as c:
        first = await c.welcomed(1, timeout=10)
        await c.seen_by_mentor(first.peer)
        away_at = time.monotonic()
        await network_away(c.proxy, 35.0, "silent")
        back_at = time.monotonic()
        again = await c.welcomed(2, timeout=15)
        rejoined_after = c.phone.welcomes[1][0] - back_at
        assert again.peer != first.peer
        assert not again.resumed

        def joined() -> list[tuple[float, ServerMessage]]:
            return [(at, m) for at, m in c.roster.of(PeerJoined) if at > away_at]

        async def joined_heard() -> bool:
            return bool(joined())

        await wait_for(joined_heard, timeout=5)
        left = c.roster.of(PeerLeft)
        assert [(m.peer, m.reason) for _, m in left] == [(first.peer, "timeout")]  # type: ignore[attr-defined]
        assert [m.peer.id for _, m in joined()] == [again.peer]  # type: ignore[attr-defined]
        assert left[0][0] < joined()[0][0]
        assert c.roster.duplicates == 0
        assert list(c.roster.peers) == [again.peer]
        print(
            f"\n35 s silent: peer-left {{timeout}} {left[0][0] - away_at:.1f} s into the outage, "
            f"rejoined as a new member {rejoined_after:.2f} s after the network returned"
        )
