"""Limits that hold across nodes (issue 13): the sockets an account may open per minute are
counted in Redis, so a reconnect loop that alternates between two nodes gets what it would get
from one, not twice as much. While Redis is away, each node counts alone (still limited), the
members already in notice nothing, and every such fall-back is counted in `/metrics`."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from server.config import Config
from server.infra.roles import Role
from signaling import Ping, Pong
from signaling.close_codes import CLOSE_POLICY
from tests.rooms.client import signaling
from tests.support import (
    RunningServer,
    free_port,
    multi_node_config,
    postgres_database,
    private_redis,
    running_server,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(60)]

OPENS_PER_MIN = 5


@contextlib.asynccontextmanager
async def two_nodes(
    tmp_path: Path, redis_port: int
) -> AsyncIterator[tuple[RunningServer, RunningServer]]:
    async with postgres_database() as url:
        config: Config = replace(
            multi_node_config(tmp_path, url),
            redis_url=f"redis://127.0.0.1:{redis_port}/0",
            socket_opens_per_minute=OPENS_PER_MIN,
        )
        async with running_server(config) as a, running_server(config) as b:
            yield a, b


async def opened(node: RunningServer, session_id: str, http: httpx.AsyncClient) -> bool:
    """Open a signaling socket: True if it is served (it answers a ping), False if refused
    with 1008."""
    async with signaling(node, session_id, http) as ws:
        await ws.send(Ping(id="p"))
        try:
            await ws.expect(Pong, timeout=5)
            return True
        except Exception:
            assert ws.ws.close_code == CLOSE_POLICY, ws.ws.close_code
            return False


async def accepted_in_a_row(
    nodes: list[RunningServer], session_id: str, http: httpx.AsyncClient
) -> int:
    """Opens one after another, round robin over ``nodes``, until one is refused."""
    for n in range(4 * OPENS_PER_MIN):
        if not await opened(nodes[n % len(nodes)], session_id, http):
            return n
    return 4 * OPENS_PER_MIN


async def a_trainee_in_a_session(
    a: RunningServer, b: RunningServer
) -> tuple[str, httpx.AsyncClient, httpx.AsyncClient]:
    mentor = await a.user(Role.MENTOR)
    trainee = await a.user(Role.TRAINEE)
    mentor_http = await a.signed_in(mentor)
    created = await mentor_http.post(
        "/api/sessions",
        json={"title": "Limits", "trainee_ids": [trainee.id], "media_mode": "direct"},
    )
    assert created.status_code == 201, created.text
    await mentor_http.aclose()
    return created.json()["id"], await a.signed_in(trainee), await b.signed_in(trainee)


def fallbacks(node: RunningServer) -> float:
    for line in node.services.metrics.render().decode().splitlines():
        if line.startswith("preceptor_shared_limit_fallbacks_total "):
            return float(line.split()[-1])
    raise AssertionError("metric missing")


async def test_the_per_minute_limit_is_the_same_on_one_node_or_alternating(
    tmp_path: Path,
) -> None:
    port = free_port()
    with private_redis(port, tmp_path):
        async with two_nodes(tmp_path, port) as (a, b):
            session, http_a, _ = await a_trainee_in_a_session(a, b)
            one_node = await accepted_in_a_row([a], session, http_a)
            session, http_a, http_b = await a_trainee_in_a_session(a, b)
            # The same person's phone, each reconnect landing on the other node.
            alternating = await accepted_in_a_row([a, b], session, http_a)
            print(f"\nopens accepted in a minute: one node {one_node}, alternating {alternating}")
            assert one_node == alternating == OPENS_PER_MIN
            await http_a.aclose()
            await http_b.aclose()


async def test_without_redis_each_node_counts_alone_and_members_notice_nothing(
    tmp_path: Path,
) -> None:
    port = free_port()
    with private_redis(port, tmp_path) as redis:
        async with two_nodes(tmp_path, port) as (a, b):
            session, http_a, http_b = await a_trainee_in_a_session(a, b)
            async with signaling(a, session, http_a) as member:
                await member.send(Ping(id="before"))
                await member.expect(Pong)
                redis.kill()
                redis.wait(5)
                # The member already in goes on; new opens are still limited, per node.
                await member.send(Ping(id="during"))
                assert (await member.expect(Pong)).id == "during"
                assert await accepted_in_a_row([b], session, http_b) == OPENS_PER_MIN
                # Each open counted in two windows (its address's and its account's).
                assert fallbacks(b) == 2 * (OPENS_PER_MIN + 1)
            await http_a.aclose()
            await http_b.aclose()
