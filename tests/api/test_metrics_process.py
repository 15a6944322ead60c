"""``/metrics`` carries what a soak watches for leaks: the process's asyncio task count, its open
file descriptors and its resident memory (issue 13; bench/soak.py samples them)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect

from server.config import Config
from server.infra.accounts import Accounts
from server.infra.roles import Role
from session_notes import SyncStep2, parse_frame, sync_step1_frame
from tests.support import (
    FAST_PASSWORDS,
    free_port,
    migrated_store,
    running_server,
    serve_process,
    wait_for,
)

TOKEN = "metrics-token-0123456789abcdef"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def sample(text: str, name: str) -> float:
    """The value of an unlabelled sample in Prometheus text."""
    for line in text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not in the metrics")


async def test_metrics_carry_the_task_count_open_fds_and_memory(config: Config) -> None:
    from dataclasses import replace

    async with (
        running_server(replace(config, metrics_token=TOKEN)) as server,
        server.client() as client,
    ):
        response = await client.get("/metrics", headers=BEARER)
    assert response.status_code == 200
    text = response.text
    assert "# TYPE preceptor_asyncio_tasks gauge" in text
    assert sample(text, "preceptor_asyncio_tasks") >= 1  # at least the one serving this request
    assert sample(text, "process_open_fds") >= 3
    assert sample(text, "process_resident_memory_bytes") > 10 * 2**20


@pytest.mark.slow
async def test_the_task_count_follows_the_sockets_a_server_process_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A server process of its own, so that the count is the server's tasks and none of the
    # test's; the figure must rise with open sockets and come back down when they close.
    url = f"sqlite+aiosqlite:///{tmp_path}/preceptor.db"
    store = await migrated_store(url)
    mentor = await Accounts(store, FAST_PASSWORDS).create_user(
        email="mentor@example.org",
        name="Mentor",
        role=Role.MENTOR,
        password="s3cret-pass!",
        actor_id=None,
    )
    session = await store.sessions.create(
        title="Metrics",
        mentor_id=mentor.id,
        trainee_ids=[],
        media_mode="direct",
        scheduled_for=None,
    )
    await store.close()
    monkeypatch.setenv("PRECEPTOR_METRICS_TOKEN", TOKEN)
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    config = Config(data_dir=tmp_path, database_url=url, secret_key="test-secret-key-0123456789")
    with serve_process(config, port):
        await wait_healthy(origin)
        async with httpx.AsyncClient(base_url=origin, timeout=10) as http:
            login = await http.post(
                "/api/auth/login", json={"email": mentor.email, "password": "s3cret-pass!"}
            )
            assert login.status_code == 200, login.text
            cookie = f"preceptor_session={login.cookies['preceptor_session']}"

            async def scrape() -> str:
                response = await http.get("/metrics", headers=BEARER)
                assert response.status_code == 200
                return response.text

            async def tasks() -> float:
                return sample(await scrape(), "preceptor_asyncio_tasks")

            text = await scrape()
            assert sample(text, "process_resident_memory_bytes") > 10 * 2**20
            fds_at_rest = sample(text, "process_open_fds")
            at_rest = await tasks()
            sockets = 8
            async with contextlib.AsyncExitStack() as stack:
                for _ in range(sockets):
                    ws = await stack.enter_async_context(
                        connect(
                            f"ws://127.0.0.1:{port}/ws/notes/{session.id}",
                            origin=origin,  # type: ignore[arg-type]
                            additional_headers={"Cookie": cookie},
                            compression=None,
                        )
                    )
                    await synced(ws)
                busy = await scrape()
                assert sample(busy, "preceptor_asyncio_tasks") >= at_rest + sockets
                assert sample(busy, "process_open_fds") >= fds_at_rest + sockets

            async def back_down() -> bool:
                return await tasks() <= at_rest

            await wait_for(back_down, timeout=10, interval=0.1)


async def wait_healthy(origin: str) -> None:
    """Up and answering; a loaded 2-core machine can take well over 20 s to import the server."""

    async def healthy() -> bool:
        async with httpx.AsyncClient(base_url=origin, timeout=5) as http:
            try:
                return (await http.get("/healthz")).status_code == 200
            except httpx.TransportError:
                return False

    await wait_for(healthy, timeout=90, interval=0.2)


async def synced(ws: ClientConnection) -> None:
    """A y-websocket handshake: the server holds the socket from here on."""
    await ws.send(sync_step1_frame(b"\x00"))
    while True:
        frame = await ws.recv()
        assert isinstance(frame, bytes)
        if isinstance(parse_frame(frame), SyncStep2):
            return
