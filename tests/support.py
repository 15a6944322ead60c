"""Test helpers: a real uvicorn server on an ephemeral port, and throwaway databases."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import os
import shutil
import socket
import sqlite3
import ssl
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
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
async def postgres_database(*, migrated: bool = False) -> AsyncIterator[str]:
    """A fresh PostgreSQL database, empty or (``migrated``) at the newest schema; dropped
    afterwards."""
    name = f"preceptor_test_{uuid.uuid4().hex[:12]}"
    template = f' TEMPLATE "{await _POSTGRES_TEMPLATE.name()}"' if migrated else ""
    await _pg_admin(f'CREATE DATABASE "{name}"{template}')
    try:
        yield _pg_url(name)
    finally:
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_url(name: str) -> str:
    return f"postgresql+asyncpg://root@127.0.0.1:5432/{name}"


async def _pg_admin(statement: str) -> None:
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(statement)
    finally:
        await admin.close()


class _PostgresTemplate:
    """A database migrated once per test process, which CREATE DATABASE copies (~0.1 s,
    against ~0.5 s for running every migration again)."""

    def __init__(self) -> None:
        self._name: str | None = None

    async def name(self) -> str:
        if self._name is None:
            name = f"preceptor_template_{uuid.uuid4().hex[:12]}"
            await _pg_admin(f'CREATE DATABASE "{name}"')
            atexit.register(_drop_at_exit, name)
            # Closed before use: PostgreSQL copies only a template nobody is connected to.
            await (await migrated_store(_pg_url(name))).close()
            self._name = name
        return self._name


def _drop_at_exit(name: str) -> None:
    asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


_POSTGRES_TEMPLATE = _PostgresTemplate()


async def migrated_store(url: str) -> Store:
    store = Store.open(url, idle_timeout_s=1800, absolute_timeout_s=43200)
    await migrate(store.engine)
    return store


class _SqliteTemplate:
    """A SQLite file migrated once per test process: a new test database starts as its copy
    (under a millisecond, against ~0.2 s of CPU for running every migration again)."""

    def __init__(self) -> None:
        self._path: Path | None = None

    async def copy_to(self, target: Path) -> None:
        """Create ``target`` as a copy, unless it exists (a restart) or its folder does not."""
        if self._path is None:
            directory = Path(tempfile.mkdtemp(prefix="preceptor-template-"))
            atexit.register(shutil.rmtree, directory, True)
            path = directory / "migrated.db"
            await (await migrated_store(f"sqlite+aiosqlite:///{path}")).close()
            self._path = path
        await asyncio.to_thread(_copy_sqlite, self._path, target)


def _copy_sqlite(source: Path, target: Path) -> None:
    if target.exists() or not target.parent.is_dir():
        return
    with (
        contextlib.closing(sqlite3.connect(source)) as origin,
        contextlib.closing(sqlite3.connect(target)) as copy,
    ):
        origin.backup(copy)


_SQLITE_TEMPLATE = _SqliteTemplate()


async def _migrate(database_url: str) -> None:
    """Bring the database to the newest schema, as ``preceptor migrate`` does; a SQLite file
    not yet created starts as a copy of the migrated template."""
    prefix = "sqlite+aiosqlite:///"
    if database_url.startswith(prefix) and ":memory:" not in database_url:
        await _SQLITE_TEMPLATE.copy_to(Path(database_url.removeprefix(prefix)))
    await (await migrated_store(database_url)).close()


@cache
def tls_context() -> ssl.SSLContext:
    """One client TLS context for every test client: httpx builds a new one per client
    otherwise (~45 ms of CPU loading the CA bundle), even for the plain-HTTP test server."""
    return ssl.create_default_context()


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
        kwargs.setdefault("verify", tls_context())
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
    await _migrate(config.database_url)
    port = free_port()
    config = _with_port(config, port)
    app = create_app(config, passwords=FAST_PASSWORDS)
    server = _PromptServer(uvicorn_config(app, "127.0.0.1", port))
    task = asyncio.create_task(server.serve())
    await wait_for(lambda: _started(server), timeout=10)
    try:
        yield RunningServer(f"http://127.0.0.1:{port}", config, app)
    finally:
        server.stop()
        await task


class _PromptServer(uvicorn.Server):
    """uvicorn's server, whose main loop starts shutting down as soon as ``stop()`` is called
    instead of at its next 0.1 s tick (~50 ms saved per test server); the ticks and the
    shutdown are uvicorn's own."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._stopping = asyncio.Event()

    def stop(self) -> None:
        self.should_exit = True
        self._stopping.set()

    async def main_loop(self) -> None:
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), 0.1)


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
