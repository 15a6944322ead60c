"""What the fault suite shares: real `preceptor serve` processes on loopback, people signed in to
them, and small measurements."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace

import httpx

from server.config import Config
from server.infra.roles import Role, User
from tests.support import (
    RunningServer,
    free_port,
    running_server,
    serve_process,
    wait_for,
    wait_listening,
)

PASSWORD = "s3cret-pass!"


@dataclass
class Node:
    """One `preceptor serve` process, as the tests' clients see it."""

    server: RunningServer
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return self.server.url

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    async def ready(self) -> int:
        async with httpx.AsyncClient(base_url=self.url, timeout=3) as client:
            return (await client.get("/readyz")).status_code

    async def metric(self, name: str) -> float:
        async with httpx.AsyncClient(base_url=self.url, timeout=3) as client:
            text = (await client.get("/metrics")).text
        for line in text.splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.split()[-1])
        raise AssertionError(f"{name} missing")

    async def sign_in(self, user: User) -> httpx.AsyncClient:
        client = httpx.AsyncClient(base_url=self.url, timeout=10)
        response = await client.post(
            "/api/auth/login", json={"email": user.email, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        return client


@dataclass
class Cast:
    """Accounts made before the processes start: a mentor and trainees."""

    mentor: User
    trainees: list[User]
    others: list[User]


async def make_cast(config: Config, trainees: int = 2, others: int = 0) -> Cast:
    async with running_server(config) as setup:
        mentor = await setup.user(Role.MENTOR)
        listed = [await setup.user(Role.TRAINEE) for _ in range(trainees)]
        extra = [await setup.user(Role.MENTOR) for _ in range(others)]
    return Cast(mentor, listed, extra)


async def new_session(http: httpx.AsyncClient, trainees: list[User]) -> str:
    created = await http.post(
        "/api/sessions",
        json={
            "title": "Breaking bad news",
            "trainee_ids": [t.id for t in trainees],
            "media_mode": "direct",
        },
    )
    assert created.status_code == 201, created.text
    session_id: str = created.json()["id"]
    return session_id


@contextlib.contextmanager
def processes(config: Config, count: int, **env: str) -> Iterator[list[Node]]:
    """``count`` `preceptor serve` processes sharing ``config`` (each on its own port)."""
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with contextlib.ExitStack() as stack:
            nodes = []
            for _ in range(count):
                port = free_port()
                node_config = replace(config, public_url=f"http://127.0.0.1:{port}")
                process = stack.enter_context(serve_process(node_config, port))
                server = RunningServer(f"http://127.0.0.1:{port}", node_config, app=None)  # type: ignore[arg-type]
                nodes.append(Node(server, process))
            yield nodes
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


async def all_listening(nodes: list[Node]) -> None:
    for node in nodes:
        await wait_listening(int(node.url.rsplit(":", 1)[1]))

        async def ready(node: Node = node) -> bool:
            try:
                return await node.ready() == 200
            except httpx.HTTPError:
                return False

        await wait_for(ready, timeout=20, interval=0.1)


@contextlib.asynccontextmanager
async def stopwatch() -> AsyncIterator[list[float]]:
    """Yields a list that holds the elapsed seconds once the block ends."""
    elapsed: list[float] = []
    started = time.monotonic()
    try:
        yield elapsed
    finally:
        elapsed.append(time.monotonic() - started)


def p99(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


async def until(condition: asyncio.Event, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        await condition.wait()
