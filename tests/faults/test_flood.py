"""One abusive account cannot disturb anyone else (issue 13, defect 1): a listed trainee opens
600 signaling sockets in 10 s, each joining and chatting. Reconnecting buys no new budget: the
account is refused with 1008 and audited once; the room keeps one member for the trainee; the
mentor is never closed; another room's relay latency stays low."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path

import pytest

from server.config import Config
from server.infra.storage import Store
from signaling import (
    ChatPosted,
    Join,
    PeerStateChanged,
    Ping,
    Pong,
    StateUpdate,
    Welcome,
)
from signaling.close_codes import CLOSE_POLICY, CLOSE_REPLACED
from tests.faults.conftest import all_listening, make_cast, new_session, p99, processes
from tests.rooms.client import SignalingClient, cookie_header, signaling

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

FLOOD_SOCKETS = 600
FLOOD_SECONDS = 10.0
CHATS_PER_SOCKET = 5
# Relay of a `state` message between two members of another room, on this 2-core machine: ~1-3
# ms at rest; the flood on today's main pushed it to 22-34 ms.
OTHER_ROOM_P99_S = 0.015
# The other room's relay before the flood: long enough for a p99 that reflects the machine's
# load of the moment (other test workers share its 2 cores).
BASELINE_SECONDS = 3.0
# Other rooms probed at once, each ~10 relays a second: ~400 samples over the flood, so its
# p99 is not its one worst sample (a single stall from another test worker on the same cores
# failed the test when one room gave ~100). Each room has its own speaker account: the
# account's message budget is not what is measured.
QUIET_ROOMS = 4


async def test_a_reconnect_flood_by_one_account_disturbs_nobody(tmp_path: Path) -> None:
    config = Config(
        data_dir=tmp_path,
        database_url=f"sqlite+aiosqlite:///{tmp_path}/preceptor.db",
        secret_key="test-secret-key-0123456789",
    )
    cast = await make_cast(config, trainees=2, others=QUIET_ROOMS)
    abuser, bystander = cast.trainees
    # Every client here shares one address (loopback): the per-address limit is for another
    # test; this one is about the account.
    with processes(config, 1, PRECEPTOR_SOCKET_OPENS_PER_MIN_PER_ADDRESS="100000") as [node]:
        await all_listening([node])
        mentor_http = await node.sign_in(cast.mentor)
        abuser_http = await node.sign_in(abuser)
        bystander_http = await node.sign_in(bystander)
        speakers_http = [await node.sign_in(other) for other in cast.others]
        flooded = await new_session(mentor_http, [abuser, bystander])
        quiet = [await new_session(http, [bystander]) for http in speakers_http]
        async with contextlib.AsyncExitStack() as sockets:
            mentor = await sockets.enter_async_context(signaling(node.server, flooded, mentor_http))
            pairs = [
                (
                    await sockets.enter_async_context(signaling(node.server, room, http)),
                    await sockets.enter_async_context(signaling(node.server, room, bystander_http)),
                )
                for room, http in zip(quiet, speakers_http, strict=True)
            ]
            for member in (mentor, *(m for pair in pairs for m in pair)):
                await member.send(Join())
                await member.expect(Welcome)

            latencies: list[float] = []
            stop = asyncio.Event()

            async def measure(speaker: SignalingClient, listener: SignalingClient) -> None:
                flip = False
                while not stop.is_set():
                    flip = not flip
                    sent = time.perf_counter()
                    await speaker.send(StateUpdate(audio=flip, video=True, screen=False))
                    await listener.expect(PeerStateChanged, timeout=5)
                    latencies.append(time.perf_counter() - sent)
                    await asyncio.sleep(0.1)  # within a socket's own rate limit

            async def mentor_reads() -> None:
                with contextlib.suppress(TimeoutError):
                    while True:
                        await mentor.expect(Pong, timeout=60)

            url = node.url.replace("http://", "ws://") + f"/ws/sessions/{flooded}"
            probes = [asyncio.create_task(measure(*pair)) for pair in pairs]
            await asyncio.sleep(BASELINE_SECONDS)
            baseline, latencies[:] = list(latencies), []
            reader = asyncio.create_task(mentor_reads())
            flooder = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.faults.flood_client",
                url,
                node.url,
                cookie_header(abuser_http),
                str(FLOOD_SOCKETS),
                str(FLOOD_SECONDS),
                str(CHATS_PER_SOCKET),
                stdout=asyncio.subprocess.PIPE,
                cwd=Path(__file__).parents[2],
            )
            out, _ = await flooder.communicate()
            assert flooder.returncode == 0
            closes: list[int | None] = json.loads(out)["closes"]
            stop.set()
            await asyncio.gather(*probes)
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

            # The mentor was never closed, and still talks to the room.
            await mentor.send(Ping(id="still-here"))
            assert (await mentor.expect(Pong, timeout=5)).id == "still-here"
            # Every flood socket was refused (1008) or replaced by the next (4409): none lingers.
            assert set(closes) <= {CLOSE_POLICY, CLOSE_REPLACED}, set(closes)
            assert closes.count(CLOSE_POLICY) > FLOOD_SOCKETS * 0.8
            # The room holds one member for the trainee, not hundreds: a newcomer sees two.
            async with signaling(node.server, flooded, bystander_http) as newcomer:
                await newcomer.send(Join())
                welcome = await newcomer.expect(Welcome, timeout=10)
                assert len(welcome.peers) <= 2, [p.role for p in welcome.peers]
            spam = [m for m in mentor.received if isinstance(m, ChatPosted)]
            # The account's budget across all its sockets, not 600 times a socket's.
            assert len(spam) <= 300, len(spam)
            # Other rooms did not notice.
            assert p99(latencies) <= max(OTHER_ROOM_P99_S, 3 * p99(baseline)), (
                p99(baseline),
                p99(latencies),
            )
        for client in (mentor_http, abuser_http, bystander_http, *speakers_http):
            await client.aclose()
    # Audited once per kind of abuse, not once per socket or frame.
    store = Store.open(config.database_url, idle_timeout_s=60, absolute_timeout_s=60)
    try:
        events = await store.audit.recent(limit=5000)
    finally:
        await store.close()
    by_abuser = [e.action for e in events if e.actor_id == abuser.id]
    assert by_abuser.count("room.rate-limited") <= 1, by_abuser.count("room.rate-limited")
    assert by_abuser.count("socket.flood") == 1
    print(  # the figures for docs/reliability.md
        f"flood: refused {closes.count(CLOSE_POLICY)}, replaced {closes.count(CLOSE_REPLACED)}, "
        f"spam relayed {len(spam)}, other room p99 {p99(baseline) * 1000:.1f} -> "
        f"{p99(latencies) * 1000:.1f} ms"
    )
