"""The fuzz's sending side (tests/api/fuzzing.py), run in a process of its own.

In the server's process, the client's thread and the server's loop took turns at one interpreter
lock: each request waited out lock hand-overs (up to the 5 ms switch interval) on both sides, so
the fuzz spent most of its time waiting rather than serving. Here the client has a lock of its
own. It imports only the standard library and httpx, so it starts in a fraction of a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import pickle
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

SAFE = {"GET", "HEAD", "OPTIONS"}
_ROOT = Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)
    params: Any = None
    content: bytes | None = None


@dataclasses.dataclass(frozen=True)
class Fuzzer:
    """One principal's credentials and what it sends: `first`, then (once it has been checked
    to be still signed in) `last`, the requests that may end its sign-in."""

    who: str
    cookies: dict[str, str]
    csrf: str | None
    signed_in: bool
    first: list[Request]
    last: list[Request]


def fuzz(base_url: str, fuzzers: list[Fuzzer]) -> list[str]:
    """Each principal's requests in turn; what went wrong: every 5xx, and every principal that
    was signed in but is no longer before its `last` requests."""
    problems: list[str] = []
    for fuzzer in fuzzers:
        with httpx.Client(base_url=base_url, timeout=30) as client:
            problems += _send_all(client, fuzzer, fuzzer.first)
            if fuzzer.signed_in and not _still_signed_in(client, fuzzer):
                problems.append(f"{fuzzer.who} was signed out by the fuzz")
            problems += _send_all(client, fuzzer, fuzzer.last)
    return problems


def _send_all(client: httpx.Client, fuzzer: Fuzzer, requests: list[Request]) -> list[str]:
    problems = []
    for request in requests:
        headers = dict(request.headers)
        if fuzzer.csrf is not None and request.method not in SAFE:
            headers.setdefault("X-CSRF-Token", fuzzer.csrf)
        # The principal's own cookie only: a response's Set-Cookie (a sign-in) must not change it.
        client.cookies = httpx.Cookies(fuzzer.cookies)
        response = client.request(
            request.method,
            request.path,
            headers=headers,
            params=request.params,
            content=request.content,
        )
        if response.status_code >= 500:
            problems.append(
                f"{response.status_code} {request.method} {request.path[:120]} as {fuzzer.who}:"
                f" {response.text[:300]}"
            )
    return problems


def _still_signed_in(client: httpx.Client, fuzzer: Fuzzer) -> bool:
    client.cookies = httpx.Cookies(fuzzer.cookies)
    return client.get("/api/me").status_code == 200


async def fuzz_in_a_process(base_url: str, fuzzers: list[Fuzzer]) -> list[str]:
    """`fuzz` in a child process; the calling loop (the server's) keeps serving meanwhile."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        __name__,
        base_url,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        cwd=_ROOT,
        env={**os.environ, "PYTHONPATH": str(_ROOT)},
    )
    try:
        out, _ = await process.communicate(pickle.dumps(fuzzers))
    finally:
        if process.returncode is None:
            process.kill()
            with contextlib.suppress(ProcessLookupError):
                await process.wait()
    assert process.returncode == 0, f"the fuzz's client exited with {process.returncode}"
    problems: list[str] = json.loads(out)
    return problems


if __name__ == "__main__":
    # Our own pickle, from the parent test process.
    fuzzers = pickle.loads(sys.stdin.buffer.read())  # noqa: S301
    json.dump(fuzz(sys.argv[1], fuzzers), sys.stdout)
