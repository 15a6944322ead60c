"""PRECEPTOR_MEDIA_MAX_STREAMS through the real server (issue 11): a member who would take the
node's media past it hears why in an `error` (`media-capacity`); the members already in get
their media offers as always."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import pytest

from server.config import Config
from server.infra.roles import Role
from signaling import MEDIA_PEER, ErrorMessage, Join, SignalRelay
from tests.media.support import loopback_ice
from tests.rooms.client import signaling
from tests.rooms.test_routed_media import routed_session
from tests.support import RunningServer, running_server

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
async def small_node(config: Config) -> AsyncIterator[RunningServer]:
    # Two members who both publish: each one's audio and video to the other (4 streams).
    async with running_server(dataclasses.replace(config, media_max_streams=4)) as running:
        yield running


async def test_a_member_past_the_nodes_capacity_is_told_why(small_node: RunningServer) -> None:
    server = small_node
    mentor = await server.user(Role.MENTOR)
    ana, ben = await server.user(Role.TRAINEE), await server.user(Role.TRAINEE)
    session_id = await routed_session(server, mentor, [ana, ben])
    https = [await server.signed_in(user) for user in (mentor, ana, ben)]
    try:
        with loopback_ice():
            async with (
                signaling(server, session_id, https[0]) as first,
                signaling(server, session_id, https[1]) as second,
                signaling(server, session_id, https[2]) as third,
            ):
                for member in (first, second):
                    await member.send(Join())
                    offer = await member.expect(SignalRelay, timeout=10)
                    assert offer.from_ == MEDIA_PEER
                await third.send(Join())
                error = await third.expect(ErrorMessage, timeout=10)
                assert error.code == "media-capacity"
                assert error.message.startswith("The server is at capacity")
                assert not any(isinstance(m, SignalRelay) for m in third.received)
                # Those already in were told nothing of it.
                assert not any(
                    isinstance(m, ErrorMessage) for c in (first, second) for m in c.received
                )
    finally:
        for http in https:
            await http.aclose()
