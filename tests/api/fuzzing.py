"""Fuzz every REST route of /api/openapi.json as every kind of principal: no answer is a 5xx.

Schemathesis draws requests from the published schema (its bodies, query strings and headers);
path parameters are mostly the ids of a real world (the access matrix's), so requests reach the
code behind the 404. Then what schemathesis does not try: invalid UTF-8 inside JSON strings, deep
nesting, huge numbers, long strings, in every body field and path parameter.

The requests are drawn once per route and sent as each principal in turn. Drawing is
derandomised, so the draw is the same for every principal anyway (hypothesis seeds it from the
test function, which is the same for all); drawing it once spares seven of every eight runs of
the schema's strategies. Routes that end sign-ins (signing out, redeeming an invite, ending the
session) are fuzzed last, and the session's mentor fuzzes last, so that every other route is
fuzzed by a principal still signed in: `fuzz_every_route` checks that it is. (Before, the fourth
route, sign-out, left every principal anonymous for the other sixty-one.) The requests go out
from a process of their own (fuzz_client.py).

The test modules (test_fuzz_sqlite.py, test_fuzz_postgres.py) run this on one database each, so
the two halves can run on different workers.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from typing import Any

import httpx
import hypothesis
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from schemathesis.core.result import Ok

from server.app import ENDPOINTS
from server.config import Config
from server.http import endpoints as api
from tests.access.test_matrix import Cast, P, World, world
from tests.api.fuzz_client import SAFE, Fuzzer, Request, fuzz_in_a_process
from tests.support import RunningServer

EXAMPLES_PER_ROUTE = 4
# Who fuzzes: one principal of each kind that changes what the code does (the others answer like
# one of these at the policy's first question).
# The session's mentor goes last: its fuzz ends the session, and with it the lobby's sign-ins.
FUZZERS = (
    P.ANONYMOUS,
    P.OTHER_MENTOR,
    P.TRAINEE,
    P.WAITING_GUEST,
    P.ADMITTED_GUEST,
    P.SUPERVISOR,
    P.ADMIN,
    P.MENTOR,
)
BODY_FUZZERS = {P.ANONYMOUS, P.MENTOR, P.ADMIN}
# Routes that end sign-ins, fuzzed after every other route: the caller's own (signing out;
# redeeming an invite replaces it) and the lobby's (ending the session).
ENDS_SIGN_INS = {
    ("POST", "/api/auth/logout"),
    ("POST", "/api/invites/{token}/redeem"),
    ("POST", "/api/sessions/{session_id}/end"),
}


def fuzz_config(config: Config, database_url: str) -> Config:
    # The fuzz redeems and signs in from one address far more often than a person could.
    return dataclasses.replace(
        config,
        database_url=database_url,
        invite_requests_per_minute=1_000_000,
        login_attempts_per_account=1_000_000,
        login_attempts_per_ip=1_000_000,
    )


@dataclasses.dataclass(frozen=True)
class Route:
    """One operation of the schema and everything sent to it."""

    method: str
    path: str
    drawn: list[Request]
    hostile_bodies: list[Request]
    hostile_fields: list[Request]
    hostile_ids: list[Request]

    def requests_as(self, who: P) -> Iterator[Request]:
        yield from self.drawn
        yield from self.hostile_bodies
        if who in BODY_FUZZERS:
            # Field by field only as the principals most routes let through to body parsing.
            yield from self.hostile_fields
        yield from self.hostile_ids


@dataclasses.dataclass(frozen=True)
class Routes:
    """Every operation of the published schema: those that end sign-ins apart, to fuzz last."""

    first: list[Route]
    last: list[Route]


def routes(ids: dict[str, str]) -> Routes:
    """Every route with its requests. Blocking (hypothesis runs synchronously): call it from a
    worker thread."""
    document = api.openapi_document(ENDPOINTS, title="Preceptor", version="fuzz")
    schema = schemathesis.openapi.from_dict(document)
    found = Routes([], [])
    for result in schema.get_all_operations():
        # A route the schema cannot describe is a finding too: no silent skip.
        assert isinstance(result, Ok), result
        route = _route(result.ok(), ids)
        (found.last if (route.method, route.path) in ENDS_SIGN_INS else found.first).append(route)
    return found


def _route(operation: Any, ids: dict[str, str]) -> Route:
    method = operation.method.upper()
    template: str = operation.path
    path = _fill(template, ids)
    json = {"Content-Type": "application/json"}
    unsafe = method not in SAFE
    fields = _body_fields(operation)
    hostile_ids = [Request(method, _fill(template, ids, h), content=b"{}") for h in _hostile_ids()]
    return Route(
        method=method,
        path=template,
        drawn=_drawn(operation, ids),
        hostile_bodies=[Request(method, path, json, content=b) for b in _whole_bodies()]
        if unsafe
        else [],
        hostile_fields=[Request(method, path, json, content=b) for b in _field_bodies(fields)]
        if unsafe
        else [],
        hostile_ids=(hostile_ids if "{" in template else [])
        # Query strings: huge and negative numbers, and bytes that are not UTF-8.
        + [Request(method, f"{path}?before={'9' * 400}&limit=-1e9&q=%FF%FE&limit=1e400")],
    )


def _drawn(operation: Any, ids: dict[str, str]) -> list[Request]:
    drawn: list[Request] = []

    @hypothesis.settings(
        max_examples=EXAMPLES_PER_ROUTE,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.generate],
    )
    @given(case=operation.as_strategy(), real_ids=st.booleans(), real_csrf=st.booleans())
    def draw(case: Any, real_ids: bool, real_csrf: bool) -> None:
        if real_ids:
            for name in case.path_parameters or {}:
                if name in ids:
                    case.path_parameters[name] = ids[name]
        kwargs = case.as_transport_kwargs(base_url="http://fuzz.invalid")
        headers = {k: v for k, v in (kwargs.get("headers") or {}).items() if k.lower() != "cookie"}
        if real_csrf:
            # The principal's own token goes in its place (fuzz_client.py).
            headers.pop("X-CSRF-Token", None)
        drawn.append(
            Request(
                case.method.upper(),
                case.formatted_path,
                headers,
                kwargs.get("params"),
                _raw_body(kwargs),
            )
        )

    draw()
    return drawn


def _body_fields(operation: Any) -> list[str]:
    body = operation.definition.raw.get("requestBody")
    if body is None:
        return []
    ref = body["content"]["application/json"]["schema"].get("$ref", "")
    components = operation.schema.raw_schema["components"]["schemas"]
    properties: dict[str, Any] = components.get(ref.rsplit("/", 1)[-1], {}).get("properties", {})
    return list(properties)


def _raw_body(kwargs: dict[str, Any]) -> bytes | None:
    if "json" in kwargs:
        return httpx.Request("POST", "http://x", json=kwargs["json"]).content
    data = kwargs.get("data") or kwargs.get("content")
    return data.encode() if isinstance(data, str) else data


def _whole_bodies() -> Iterator[bytes]:
    yield b'{"x": "\xff\xfe\xfd"}'
    yield b"[" * 10_000 + b"]" * 10_000
    yield b'{"a":' * 5_000 + b"1" + b"}" * 5_000
    yield b"not json at all"
    yield b"1e99999"


def _field_bodies(fields: list[str]) -> Iterator[bytes]:
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


def _fuzzer(built: World, who: P, every: Routes) -> Fuzzer:
    client = built.clients[who]
    return Fuzzer(
        who=who.value,
        cookies={name: value for name, value in client.cookies.items()},
        csrf=client.headers.get("X-CSRF-Token"),
        signed_in=who is not P.ANONYMOUS,
        first=[request for route in every.first for request in route.requests_as(who)],
        last=[request for route in every.last for request in route.requests_as(who)],
    )


async def fuzz_every_route(server: RunningServer, cast: Cast) -> list[str]:
    """What went wrong: each 5xx, and each principal whose sign-in ended before the routes that
    end sign-ins (the rest of its fuzz would have been anonymous's)."""
    async with world(server, cast) as built:
        every = await asyncio.to_thread(routes, built.ids)
        fuzzers = [_fuzzer(built, who, every) for who in FUZZERS]
        return await fuzz_in_a_process(server.url, fuzzers)
