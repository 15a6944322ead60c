"""Fuzz every REST route of /api/openapi.json as every kind of principal: no answer is a 5xx.

Schemathesis draws requests from the published schema (its bodies, query strings and headers);
path parameters are mostly the ids of a real world (the access matrix's), so requests reach the
code behind the 404. Then what schemathesis does not try: invalid UTF-8 inside JSON strings, deep
nesting, huge numbers, long strings, in every body field and path parameter.

Runs on SQLite and PostgreSQL (the `server` fixture is parametrised), derandomised so a failure
reproduces.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from schemathesis.core.result import Ok

from server.app import ENDPOINTS
from server.config import Config
from server.http import endpoints as api
from tests.access.test_matrix import P, World, cast, world  # noqa: F401 - `cast` is a fixture
from tests.support import RunningServer

pytestmark = pytest.mark.timeout(600)

EXAMPLES_PER_PRINCIPAL = 4
# Who fuzzes: one principal of each kind that changes what the code does (the others answer like
# one of these at the policy's first question).
FUZZERS = (
    P.ANONYMOUS,
    P.MENTOR,
    P.OTHER_MENTOR,
    P.TRAINEE,
    P.WAITING_GUEST,
    P.ADMITTED_GUEST,
    P.SUPERVISOR,
    P.ADMIN,
)
BODY_FUZZERS = {P.ANONYMOUS, P.MENTOR, P.ADMIN}
SAFE = {"GET", "HEAD", "OPTIONS"}


@pytest.fixture
def config(config: Config, database_url: str) -> Config:
    # The fuzz redeems and signs in from one address far more often than a person could.
    return dataclasses.replace(
        config,
        database_url=database_url,
        invite_requests_per_minute=1_000_000,
        login_attempts_per_account=1_000_000,
        login_attempts_per_ip=1_000_000,
    )


@dataclasses.dataclass
class Finding:
    who: str
    method: str
    path: str
    status: int
    body: str


@dataclasses.dataclass
class Fuzzer:
    """Sends requests as one principal from a worker thread (hypothesis runs synchronously)."""

    who: P
    base_url: str
    cookies: dict[str, str]
    csrf: str | None
    findings: list[Finding]

    client: httpx.Client = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.base_url, cookies=self.cookies, timeout=30)

    def send(self, method: str, path: str, **kwargs: Any) -> None:
        headers = dict(kwargs.pop("headers", None) or {})
        if self.csrf is not None and method not in SAFE:
            headers.setdefault("X-CSRF-Token", self.csrf)
        # The principal's own cookie only: a response's Set-Cookie (a sign-in) must not change it.
        self.client.cookies = httpx.Cookies(self.cookies)
        response = self.client.request(method, path, headers=headers, **kwargs)
        if response.status_code >= 500:
            self.findings.append(
                Finding(self.who.value, method, path, response.status_code, response.text[:300])
            )


def _operations() -> list[Any]:
    document = api.openapi_document(ENDPOINTS, title="Preceptor", version="fuzz")
    schema = schemathesis.openapi.from_dict(document)
    operations = []
    for result in schema.get_all_operations():
        # A route the schema cannot describe is a finding too: no silent skip.
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    return operations


def _body_fields(operation: Any) -> list[str]:
    body = operation.definition.raw.get("requestBody")
    if body is None:
        return []
    ref = body["content"]["application/json"]["schema"].get("$ref", "")
    components = operation.schema.raw_schema["components"]["schemas"]
    properties: dict[str, Any] = components.get(ref.rsplit("/", 1)[-1], {}).get("properties", {})
    return list(properties)


def _fuzz_with_schemathesis(fuzzer: Fuzzer, operation: Any, ids: dict[str, str]) -> None:
    @hypothesis.settings(
        max_examples=EXAMPLES_PER_PRINCIPAL,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.generate],
    )
    @given(case=operation.as_strategy(), real_ids=st.booleans(), real_csrf=st.booleans())
    def run(case: Any, real_ids: bool, real_csrf: bool) -> None:
        if real_ids:
            for name in case.path_parameters or {}:
                if name in ids:
                    case.path_parameters[name] = ids[name]
        kwargs = case.as_transport_kwargs(base_url=fuzzer.base_url)
        headers = {k: v for k, v in (kwargs.get("headers") or {}).items() if k.lower() != "cookie"}
        if real_csrf:
            headers.pop("X-CSRF-Token", None)
        fuzzer.send(
            case.method.upper(),
            case.formatted_path,
            headers=headers,
            params=kwargs.get("params"),
            content=_raw_body(kwargs),
        )

    run()


def _raw_body(kwargs: dict[str, Any]) -> bytes | None:
    if "json" in kwargs:
        return httpx.Request("POST", "http://x", json=kwargs["json"]).content
    data = kwargs.get("data") or kwargs.get("content")
    return data.encode() if isinstance(data, str) else data


def _hostile_bodies(fields: list[str]) -> Iterator[bytes]:
    yield b'{"x": "\xff\xfe\xfd"}'
    yield b"[" * 10_000 + b"]" * 10_000
    yield b'{"a":' * 5_000 + b"1" + b"}" * 5_000
    yield b"not json at all"
    yield b"1e99999"
    for name in fields:
        key = name.encode()
        for value in (
            b'"\xc3\x28 broken utf-8"',
            b"1e400",
            b"-1e400",
            str(2**64 - 1).encode(),
            str(-(2**63) - 1).encode(),
            b'"' + b"x" * 20_000 + b'"',
            b"null",
            b"[" * 3_000 + b"]" * 3_000,
            b'{"nested": {"deeper": [1, 2, {"x": "y"}]}}',
            b"true",
        ):
            yield b'{"' + key + b'": ' + value + b"}"


def _hostile_ids() -> Iterator[str]:
    yield "a" * 5_000
    yield "%00"
    yield "%FF%FE"
    yield "..%2F..%2Fetc%2Fpasswd"
    yield "ünïcödé-🙂"
    yield "1e400"
    yield str(2**64)


def _fill(template: str, ids: dict[str, str], override: str | None = None) -> str:
    path = template
    for name, value in ids.items():
        path = path.replace("{" + name + "}", override if override is not None else value)
    return path


def _fuzz_by_hand(fuzzer: Fuzzer, operation: Any, ids: dict[str, str]) -> None:
    method = operation.method.upper()
    template = operation.path
    path = _fill(template, ids)
    if method not in SAFE:
        # Field by field only as the principals most routes let through to body parsing.
        fields = _body_fields(operation) if fuzzer.who in BODY_FUZZERS else []
        for body in _hostile_bodies(fields):
            fuzzer.send(method, path, content=body, headers={"Content-Type": "application/json"})
    if "{" in template:
        for hostile in _hostile_ids():
            fuzzer.send(method, _fill(template, ids, hostile), content=b"{}")
    # Query strings: huge and negative numbers, and bytes that are not UTF-8.
    fuzzer.send(method, f"{path}?before={'9' * 400}&limit=-1e9&q=%FF%FE&limit=1e400")


def _run_all(fuzzers: list[Fuzzer], ids: dict[str, str]) -> None:
    operations = _operations()
    for fuzzer in fuzzers:
        for operation in operations:
            _fuzz_with_schemathesis(fuzzer, operation, ids)
            _fuzz_by_hand(fuzzer, operation, ids)


async def test_no_route_answers_a_5xx_to_anyone(server: RunningServer, cast: Any) -> None:  # noqa: F811
    findings: list[Finding] = []
    async with world(server, cast) as built:
        fuzzers = [_fuzzer(server, built, who, findings) for who in FUZZERS]
        # The server runs on this event loop; the fuzz's blocking requests run in a thread.
        try:
            await asyncio.to_thread(_run_all, fuzzers, built.ids)
        finally:
            for fuzzer in fuzzers:
                fuzzer.client.close()
    assert not findings, "\n".join(
        f"{f.status} {f.method} {f.path[:120]} as {f.who}: {f.body}" for f in findings[:20]
    )


def _fuzzer(server: RunningServer, built: World, who: P, findings: list[Finding]) -> Fuzzer:
    client = built.clients[who]
    csrf = client.headers.get("X-CSRF-Token")
    cookies = {name: value for name, value in client.cookies.items()}
    return Fuzzer(who, server.url, cookies, csrf, findings)
