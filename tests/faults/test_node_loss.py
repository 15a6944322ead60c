"""Rooms that heal (issue 13, defects 2 and 3), with real `preceptor serve` processes, the
machine's PostgreSQL and a Redis of the test's own:

- the room's node is killed (SIGKILL): its members on the other node are moved to a new owner
  with their peer ids (`welcome {resumed}`), and the room works again within 5 s;
- Redis is killed for 15 s under a two-node room: no second room, chat delivered again within
  2 s of its return, `/readyz` says so during and after.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from server.config import Config
from signaling import Chat, ChatPosted, Join, Welcome
from tests.faults.conftest import Cast, Node, all_listening, make_cast, new_session, processes
from tests.rooms.client import SignalingClient, signaling
from tests.support import (
    free_port,
    multi_node_config,
    postgres_database,
    private_redis,
    wait_for,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(120)]

HEAL_AFTER_NODE_LOSS_S = 5.0
HEAL_AFTER_REDIS_S = 2.0
REDIS_OUTAGE_S = 15.0


@contextlib.asynccontextmanager
async def deployment(tmp_path: Path, redis_port: int) -> AsyncIterator[tuple[Config, Cast]]:
    async with postgres_database() as url:
        config = replace(
            multi_node_config(tmp_path, url), redis_url=f"redis://127.0.0.1:{redis_port}/0"
        )
        yield config, await make_cast(config, trainees=2)


async def chat_arrives(sender: SignalingClient, reader: SignalingClient, text: str) -> None:
    await sender.send(Chat(text=text))
    while (await reader.expect(ChatPosted, timeout=10)).text != text:
        pass


async def test_the_room_works_again_within_5_s_after_its_node_is_killed(tmp_path: Path) -> None:
    port = free_port()
    with private_redis(port, tmp_path):
        async with deployment(tmp_path, port) as (config, cast):
            with processes(config, 2) as nodes:
                a, b = nodes
                await all_listening(nodes)
                mentor_http = await a.sign_in(cast.mentor)
                trainee_http = await b.sign_in(cast.trainees[0])
                session = await new_session(mentor_http, cast.trainees)
                async with (
                    signaling(a.server, session, mentor_http) as mentor,
                    signaling(b.server, session, trainee_http) as trainee,
                ):
                    await mentor.send(Join())
                    mentor_welcome = await mentor.expect(Welcome)  # node a runs the room
                    await trainee.send(Join())
                    before = await trainee.expect(Welcome, timeout=10)
                    await chat_arrives(trainee, mentor, "before")

                    killed_at = time.monotonic()
                    a.kill()
                    # The trainee's node notices, takes the room over and says so.
                    moved = await trainee.expect(Welcome, timeout=10)
                    moved_after = time.monotonic() - killed_at
                    assert (moved.peer, moved.resume, moved.resumed) == (
                        before.peer,
                        before.resume,
                        True,
                    )
                    # The mentor's page reconnects, to the node that is left.
                    async with signaling(b.server, session, mentor_http) as back:
                        await back.send(Join(resume=mentor_welcome.resume))
                        await back.expect(Welcome, timeout=10)
                        await chat_arrives(back, trainee, "after")
                        works_after = time.monotonic() - killed_at
                    assert works_after <= HEAL_AFTER_NODE_LOSS_S, works_after
                    # Operators see the move on the node that took the room over.
                    moved_metric = 'preceptor_rooms_moved_total{why="owner-silent"}'
                    assert await b.metric(moved_metric) == 1
                    # Nothing said before the loss is lost: it is stored, and comes back.
                    print(
                        f"node loss: members moved after {moved_after:.1f} s, "
                        f"room works after {works_after:.1f} s"
                    )
                await mentor_http.aclose()
                await trainee_http.aclose()


async def rooms_open(nodes: list[Node]) -> float:
    return sum([await node.metric("preceptor_rooms_active") for node in nodes])


@pytest.mark.slow
async def test_a_15_s_redis_outage_does_not_split_a_two_node_room(tmp_path: Path) -> None:
    port = free_port()
    with private_redis(port, tmp_path) as redis:
        async with deployment(tmp_path, port) as (config, cast):
            with processes(config, 2) as nodes:
                await outage_under_a_two_node_room(nodes, cast, redis, port, tmp_path)


async def outage_under_a_two_node_room(
    nodes: list[Node], cast: Cast, redis: subprocess.Popen[bytes], port: int, tmp_path: Path
) -> None:
    a, b = nodes
    await all_listening(nodes)
    mentor_http = await a.sign_in(cast.mentor)
    trainee_http = await b.sign_in(cast.trainees[0])
    late_http = await b.sign_in(cast.trainees[1])
    session = await new_session(mentor_http, cast.trainees)
    async with (
        signaling(a.server, session, mentor_http) as mentor,
        signaling(b.server, session, trainee_http) as trainee,
    ):
        await mentor.send(Join())
        await mentor.expect(Welcome)  # node a runs the room
        await trainee.send(Join())
        await trainee.expect(Welcome, timeout=10)
        await chat_arrives(trainee, mentor, "before")

        redis.kill()
        redis.wait(5)
        down_at = time.monotonic()

        async def degraded() -> bool:
            return [await n.ready() for n in nodes] == [503, 503]

        await wait_for(degraded, timeout=10, interval=0.2)
        # The fault itself lasts 15 s; nothing to wait for but time. Said once the nodes know
        # their bus is down (~1.5 s), a message waits for the bus; one relayed before that may
        # be lost in Redis's restart (it is stored: the record and `chat-history` keep it).
        await asyncio.sleep(3.0 - (time.monotonic() - down_at))
        await mentor.send(Chat(text="during the outage"))
        await asyncio.sleep(REDIS_OUTAGE_S - (time.monotonic() - down_at))

        with private_redis(port, tmp_path):
            back_at = time.monotonic()
            # Chat works both ways again, and what was said during the outage arrives.
            await chat_arrives(trainee, mentor, "after")
            await chat_arrives(mentor, trainee, "and back")
            healed_after = time.monotonic() - back_at
            said = [m.text for m in trainee.received if isinstance(m, ChatPosted)]
            assert "during the outage" in said

            async def ready() -> bool:
                return [await n.ready() for n in nodes] == [200, 200]

            await wait_for(ready, timeout=5, interval=0.2)
            # One room: a newcomer through the node that does not run it sees both members.
            async with signaling(b.server, session, late_http) as late:
                await late.send(Join())
                welcome = await late.expect(Welcome, timeout=10)
                assert len(welcome.peers) == 2, welcome.peers
            assert await rooms_open(nodes) == 1
            print(f"redis outage: room works {healed_after:.1f} s after Redis returned")
            assert healed_after <= HEAL_AFTER_REDIS_S, healed_after
    for client in (mentor_http, trainee_http, late_http):
        await client.aclose()
