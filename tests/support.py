"""Test helpers: a real uvicorn server on an ephemeral port, and throwaway databases."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import uvicorn
from starlette.applications import Starlette

from server.app import create_app
from server.config import Config
from server.infra.passwords import Passwords
from server.infra.roles import Role, User
from server.infra.storage import Store, migrate
from server.services import Services
from server.serving import uvicorn_config

PG_ADMIN_DSN = "postgresql://root@127.0.0.1:5432/test"

# Cheap parameters keep each hash in the low milliseconds; production uses argon2's defaults.
FAST_PASSWORDS = Passwords(
    __import__("argon2").PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
)


@contextlib.asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database; dropped afterwards."""
    name = f"preceptor_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"postgresql+asyncpg://root@127.0.0.1:5432/{name}"
    finally:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def migrated_store(url: str) -> Store:
    store = Store.open(url, idle_timeout_s=1800, absolute_timeout_s=43200)
    await migrate(store.engine)
    return store


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class RunningServer:
    url: str
    config: Config
    app: Starlette

    @property
    def services(self) -> Services:
        found: Services = self.app.state.services
        return found

    def client(self, **kwargs: object) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=10, **kwargs)  # type: ignore[arg-type]

    async def user(
        self, role: Role, *, email: str | None = None, password: str = "s3cret-pass!"
    ) -> User:
        return await self.services.accounts.create_user(
            email=email or f"{role.value}-{uuid.uuid4().hex[:8]}@example.org",
            name=f"Test {role.value.title()}",
            role=role,
            password=password,
            actor_id=None,
        )

    async def signed_in(self, user: User, password: str = "s3cret-pass!") -> httpx.AsyncClient:
        client = self.client()
        response = await client.post(
            "/api/auth/login", json={"email": user.email, "password": password}
        )
        assert response.status_code == 200, response.text
        client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
        return client


@contextlib.asynccontextmanager
async def running_server(config: Config) -> AsyncIterator[RunningServer]:
    """The real app under real uvicorn, listening on 127.0.0.1 at a free port."""
    store = Store.open(config.database_url, idle_timeout_s=1800, absolute_timeout_s=43200)
    await migrate(store.engine)
    await store.close()
    port = free_port()
    config = _with_port(config, port)
    app = create_app(config, passwords=FAST_PASSWORDS)
    server = uvicorn.Server(uvicorn_config(app, "127.0.0.1", port))
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: _started(server), timeout=10)
    try:
        yield RunningServer(f"http://127.0.0.1:{port}", config, app)
    finally:
        server.should_exit = True
        await task


async def _started(server: uvicorn.Server) -> bool:
    return server.started


def _with_port(config: Config, port: int) -> Config:
    from dataclasses import replace

    origin = f"http://127.0.0.1:{port}"
    return replace(config, public_url=origin, allowed_origins=(origin, f"http://localhost:{port}"))


async def wait_for(
    condition: Callable[[], Awaitable[bool]], *, timeout: float = 5.0, interval: float = 0.02
) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(interval)


@contextlib.contextmanager
def private_redis(port: int, workdir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A Redis of the test's own on a free loopback port, to stop and start at will."""
    server = shutil.which("redis-server")
    assert server, "redis-server is needed"
    process = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(5)


@dataclass
class Scene:
    server: RunningServer
    mentor: User
    mentor_http: httpx.AsyncClient
    guest_http: httpx.AsyncClient
    session_id: str


async def make_scene(server: RunningServer) -> Scene:
    mentor = await server.user(Role.MENTOR)
    mentor_http = await server.signed_in(mentor)
    created = await mentor_http.post(
        "/api/sessions", json={"title": "Chest pain history", "media_mode": "direct"}
    )
    assert created.status_code == 201, created.text
    session_id = created.json()["id"]
    invite = await mentor_http.post(
        f"/api/sessions/{session_id}/invites", json={"name": "Sam Student"}
    )
    assert invite.status_code == 201, invite.text
    guest_http = server.client()
    redeemed = await guest_http.post(f"/api/invites/{invite.json()['token']}/redeem", json={})
    assert redeemed.status_code == 200, redeemed.text
    guest_http.headers["X-CSRF-Token"] = redeemed.json()["csrf_token"]
    return Scene(server, mentor, mentor_http, guest_http, session_id)


def serve_env(config: Config, port: int) -> dict[str, str]:
    """The environment an operator gives ``preceptor serve`` for ``config`` on ``port``."""
    env = {
        **os.environ,
        "PRECEPTOR_DATA_DIR": str(config.data_dir),
        "PRECEPTOR_DATABASE_URL": config.database_url,
        "PRECEPTOR_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PRECEPTOR_SECRET_KEY": config.secret_key,
        "PRECEPTOR_LOG_LEVEL": "WARNING",
    }
    env.pop("PRECEPTOR_REDIS_URL", None)
    if config.redis_url:
        env["PRECEPTOR_REDIS_URL"] = config.redis_url
    return env


@contextlib.contextmanager
def serve_process(
    config: Config, port: int, command: Sequence[str] = (".venv/bin/preceptor",)
) -> Iterator[subprocess.Popen[bytes]]:
    """``preceptor serve`` as its own OS process, as an operator runs it (``command``: what
    stands for ``preceptor``)."""
    process = subprocess.Popen(
        [*command, "serve", "--port", str(port)],
        env=serve_env(config, port),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


async def wait_listening(port: int) -> None:
    async def listening() -> bool:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return False
        writer.close()
        return True

    await wait_for(listening, timeout=20)


def multi_node_config(data_dir: Path, database_url: str) -> Config:
    """What every node of a multi-node deployment shares: database, Redis, secret, data dir."""
    return Config(
        data_dir=data_dir,
        database_url=database_url,
        redis_url="redis://127.0.0.1:6379/0",
        secret_key="shared-secret-key-0123456789",
    )
