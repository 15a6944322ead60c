"""What both benchmarks need: a Preceptor process with accounts and sessions made for it, and
the small helpers to start, watch and stop server processes."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from server.infra.accounts import Accounts
from server.infra.roles import Role, User
from server.infra.storage import Store, migrate
from tests.support import FAST_PASSWORDS, free_port

__all__ = [
    "ROOT",
    "Node",
    "PreceptorProcess",
    "cpu_seconds",
    "open_fds",
    "rss_kib",
    "start_preceptor",
    "stop",
    "wait_port",
]

PASSWORD = "bench-password-123"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """The process's CPU time so far, all its threads, user + system (``/proc/<pid>/stat``)."""
    # Fields after the command's closing parenthesis (the name may hold spaces): utime and
    # stime are the 12th and 13th of them, in clock ticks.
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


async def wait_port(port: int) -> None:
    # Up to a minute: on a 2-core machine busy with other work, importing the app alone took ~18 s.
    for _ in range(1200):
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


@dataclass(frozen=True)
class Node:
    """One `preceptor serve` process."""

    port: int
    pid: int

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass(frozen=True)
class PreceptorProcess:
    port: int
    pid: int
    session_ids: list[str]
    mentor_cookies: list[str]
    trainee_cookies: list[str]
    """One per person (``sign_ins`` mentors and as many trainees)."""
    more_nodes: tuple[Node, ...] = ()
    """With ``nodes > 1``: the other processes, sharing the first one's database and Redis."""

    @property
    def nodes(self) -> list[Node]:
        return [Node(self.port, self.pid), *self.more_nodes]

    @property
    def mentor_cookie(self) -> str:
        return self.mentor_cookies[0]

    @property
    def trainee_cookie(self) -> str:
        return self.trainee_cookies[0]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"


async def start_preceptor(
    stack: contextlib.AsyncExitStack,
    workdir: Path,
    *,
    sessions: int,
    sign_ins: int = 1,
    nodes: int = 1,
    database_url: str | None = None,
    redis_url: str | None = None,
    env: dict[str, str] | None = None,
    log_dir: Path | None = None,
) -> PreceptorProcess:
    """`preceptor serve` on SQLite in ``workdir`` (or on ``database_url``), with a mentor and a
    trainee signed in and ``sessions`` sessions (each listing the trainee) made beforehand.
    ``nodes`` > 1 starts that many processes on one database, data dir and ``redis_url``;
    ``env`` adds settings (``PRECEPTOR_*``) for every process; with ``log_dir`` each process
    writes its log (at ``PRECEPTOR_LOG_LEVEL``, WARNING unless ``env`` says) to node-<i>.log."""
    database_url = database_url or f"sqlite+aiosqlite:///{workdir}/preceptor.db"
    env = {
        **os.environ,
        "PRECEPTOR_LOG_LEVEL": "WARNING",
        **(env or {}),
        "PRECEPTOR_DATA_DIR": str(workdir),
        "PRECEPTOR_DATABASE_URL": database_url,
        "PRECEPTOR_SECRET_KEY": "bench-secret-key-0123456789",
    }
    env.pop("PRECEPTOR_REDIS_URL", None)
    if redis_url is not None:
        env["PRECEPTOR_REDIS_URL"] = redis_url
    store = Store.open(
        database_url,
        idle_timeout_s=86400,
        absolute_timeout_s=86400,
    )
    await migrate(store.engine)
    accounts = Accounts(store, FAST_PASSWORDS)
    # One mentor and one trainee per sign-in: N different people, so per-account limits and
    # per-person caches see what they would see in a busy program. Session i is pair i mod N's.
    people: dict[Role, list[User]] = {Role.MENTOR: [], Role.TRAINEE: []}
    for i in range(sign_ins):
        for role, jar in people.items():
            jar.append(
                await accounts.create_user(
                    email=f"{role.value[0]}{i}@bench",
                    name=f"{role.value.title()} {i}",
                    role=role,
                    password=PASSWORD,
                    actor_id=None,
                )
            )
    session_ids = [
        (
            await store.sessions.create(
                title=f"session {i}",
                mentor_id=people[Role.MENTOR][i % sign_ins].id,
                trainee_ids=[people[Role.TRAINEE][i % sign_ins].id],
                media_mode="direct",
                scheduled_for=None,
            )
        ).id
        for i in range(sessions)
    ]
    await store.close()
    started: list[Node] = []
    if log_dir:
        os.makedirs(log_dir, exist_ok=True)
    for i in range(nodes):
        port = free_port()
        log = stack.enter_context((log_dir / f"node-{i}.log").open("wb")) if log_dir else None
        command = [str(ROOT / ".venv/bin/preceptor"), "serve", "--port", str(port)]
        if profile := os.environ.get("BENCH_PROFILE_DIR"):
            # cProfile of each node, written when it exits (SIGTERM): where a figure's CPU goes.
            command = [
                sys.executable,
                str(ROOT / "bench/profiled.py"),
                f"{profile}/node-{i}.prof",
                *command[1:],
            ]
        process = subprocess.Popen(
            command,
            env={**env, "PRECEPTOR_PUBLIC_URL": f"http://127.0.0.1:{port}"},
            stdout=log or subprocess.DEVNULL,
            stderr=log or subprocess.DEVNULL,
        )
        stack.callback(stop, process)
        started.append(Node(port, process.pid))
    for node in started:
        await wait_port(node.port)
    port = started[0].port
    cookies: dict[Role, list[str]] = {Role.MENTOR: [], Role.TRAINEE: []}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        for role, signed in cookies.items():
            for person in people[role]:
                r = await http.post(
                    "/api/auth/login", json={"email": person.email, "password": PASSWORD}
                )
                r.raise_for_status()
                signed.append(f"preceptor_session={r.cookies['preceptor_session']}")
                http.cookies.clear()
    return PreceptorProcess(
        port,
        started[0].pid,
        session_ids,
        cookies[Role.MENTOR],
        cookies[Role.TRAINEE],
        tuple(started[1:]),
    )
