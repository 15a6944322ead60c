"""Admission control per address and per account (issue 13): a flood of handshakes from one
address is refused with 1008 and audited once; an account's messages are budgeted across all its
sockets, so a second socket buys no second budget."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace

from websockets.exceptions import ConnectionClosed

from server.config import Config
from signaling import Ping, Pong
from signaling.close_codes import CLOSE_POLICY
from tests.rooms.client import signaling
from tests.support import make_scene, running_server


async def test_too_many_handshakes_from_one_address_are_refused_and_audited_once(
    config: Config,
) -> None:
    async with running_server(replace(config, socket_opens_per_minute_per_address=3)) as server:
        scene = await make_scene(server)
        codes = []
        for _ in range(6):
            async with signaling(server, scene.session_id, scene.mentor_http) as ws:
                codes.append(await ws.closed(timeout=0.3) if _ >= 3 else None)
        assert codes[3:] == [CLOSE_POLICY] * 3
        flood = await server.services.store.audit.recent(action="socket.flood")
        assert len(flood) == 1
        assert flood[0].detail["reason"] == "too many connections"


async def test_an_accounts_messages_are_budgeted_across_its_sockets(config: Config) -> None:
    # A budget of 10/s (burst 60) per account, under each socket's own (20/s, burst 120): two
    # sockets get no more than one.
    async with running_server(replace(config, messages_per_second=10)) as server:
        scene = await make_scene(server)
        async with (
            signaling(server, scene.session_id, scene.mentor_http) as first,
            signaling(server, scene.session_id, scene.mentor_http) as second,
        ):
            mine = [first, second]
            sent = 0
            with contextlib.suppress(ConnectionClosed):
                for n in range(300):
                    await mine[n % 2].send(Ping(id=str(n)))
                    sent += 1
                    await asyncio.sleep(0)
            assert CLOSE_POLICY in [await ws.closed(timeout=5) for ws in mine]
            pongs = sum(isinstance(m, Pong) for ws in mine for m in ws.received)
            assert pongs <= 70, pongs
        await server.services.records.flush()
        events = await server.services.store.audit.recent(action="room.rate-limited")
        assert len(events) == 1
