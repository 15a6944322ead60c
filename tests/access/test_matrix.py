"""The authorization matrix (DESIGN.md §7): every kind of principal x every REST route and every
privileged socket message, against the real server.

Rows come from the app's own route table, so a route added without a row here fails
`test_every_route_has_a_row`. A principal not in a row's allowed set must be refused (401, 403 or
404, with an error code and a reason); one in it must get past access (2xx, or a 409/422 about
the state or the body). Each route runs in a fresh world, so a route that changes things (end,
revoke, logout) cannot spoil the next.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import httpx
import pytest
from pycrdt import Doc, Text

from server.app import ENDPOINTS
from server.config import Config
from server.infra.roles import Role, User
from signaling import (
    Admit,
    ClientMessage,
    Deny,
    ErrorMessage,
    Join,
    Mark,
    PeerId,
    Ping,
    Pong,
    RecordingCommand,
)
from tests.api.recording_support import stored_recording
from tests.rooms.client import signaling
from tests.support import RunningServer


class P(Enum):
    ANONYMOUS = "anonymous"
    MENTOR = "mentor of the session"
    OTHER_MENTOR = "mentor of another session"
    TRAINEE = "listed trainee"
    OTHER_TRAINEE = "trainee of another session"
    WAITING_GUEST = "guest in the lobby"
    ADMITTED_GUEST = "admitted guest"
    DENIED_GUEST = "denied guest"
    WITHDRAWN_GUEST = "guest of a withdrawn invite"
    SUPERVISOR = "assigned supervisor"
    OTHER_SUPERVISOR = "unassigned supervisor"
    ADMIN = "admin"


SIGNED_OUT = {P.ANONYMOUS, P.DENIED_GUEST, P.WITHDRAWN_GUEST}
EVERYONE_SIGNED_IN = set(P) - SIGNED_OUT
ROOM = {P.MENTOR, P.TRAINEE, P.SUPERVISOR, P.WAITING_GUEST, P.ADMITTED_GUEST}
RECORD = {P.MENTOR, P.TRAINEE, P.SUPERVISOR, P.ADMIN, P.ADMITTED_GUEST}
SEES_SESSION = RECORD | {P.WAITING_GUEST}
MENTOR = {P.MENTOR}
MENTORS = {P.MENTOR, P.OTHER_MENTOR}
ADMIN = {P.ADMIN}
PUBLIC = None  # anyone, and the answer is never a 5xx
ACCOUNTS = EVERYONE_SIGNED_IN - {P.WAITING_GUEST, P.ADMITTED_GUEST}
FOLLOWS_TRAINEE = {P.MENTOR, P.TRAINEE, P.SUPERVISOR, P.ADMIN}

MENTOR_FORM = "mini-cex-abim"


@dataclass
class World:
    """One session with everything a route may touch, and a client per kind of principal."""

    ids: dict[str, str]
    clients: dict[P, httpx.AsyncClient] = field(default_factory=dict)

    def path(self, template: str) -> str:
        out = template
        for name, value in self.ids.items():
            out = out.replace("{" + name + "}", value)
        return out


@dataclass(frozen=True)
class Row:
    allowed: set[P] | None
    body: Callable[[World], Any] | None = None


ROWS: dict[tuple[str, str], Row] = {
    ("POST", "/api/auth/login"): Row(
        PUBLIC, lambda w: {"email": "no@example.org", "password": "x"}
    ),
    ("POST", "/api/auth/logout"): Row(EVERYONE_SIGNED_IN),
    ("GET", "/api/me"): Row(EVERYONE_SIGNED_IN),
    ("POST", "/api/sessions"): Row(MENTORS, lambda w: {"title": "Another"}),
    ("GET", "/api/sessions"): Row(EVERYONE_SIGNED_IN),
    ("GET", "/api/sessions/{session_id}"): Row(SEES_SESSION),
    ("POST", "/api/sessions/{session_id}/end"): Row(MENTOR),
    ("POST", "/api/sessions/{session_id}/invites"): Row(MENTOR, lambda w: {"name": "Kim"}),
    ("GET", "/api/sessions/{session_id}/invites"): Row(MENTOR),
    ("POST", "/api/sessions/{session_id}/invites/{invite_id}/revoke"): Row(MENTOR),
    ("POST", "/api/sessions/{session_id}/trainees"): Row(
        MENTOR, lambda w: {"trainee_id": w.ids["user_id"]}
    ),
    ("DELETE", "/api/sessions/{session_id}/trainees/{trainee_id}"): Row(MENTOR),
    ("PUT", "/api/sessions/{session_id}/observers"): Row(
        {P.MENTOR, P.ADMIN}, lambda w: {"hidden": True}
    ),
    ("GET", "/api/trainees"): Row({P.MENTOR, P.OTHER_MENTOR, P.ADMIN}),
    ("GET", "/api/sessions/{session_id}/guests"): Row(MENTOR),
    ("POST", "/api/sessions/{session_id}/guests/{guest_id}/link"): Row(
        MENTOR, lambda w: {"trainee_id": w.ids["user_id"]}
    ),
    ("GET", "/api/invites/{token}"): Row(PUBLIC),
    ("POST", "/api/invites/{token}/redeem"): Row(PUBLIC, lambda w: {}),
    ("POST", "/api/tickets"): Row(ROOM, lambda w: {"session_id": w.ids["session_id"]}),
    ("GET", "/api/sessions/{session_id}/notes"): Row(RECORD),
    ("GET", "/api/sessions/{session_id}/notes/history"): Row(RECORD),
    ("GET", "/api/sessions/{session_id}/notes.md"): Row(RECORD),
    ("GET", "/api/sessions/{session_id}/notes/versions/{version_id}"): Row(RECORD),
    ("GET", "/api/sessions/{session_id}/record"): Row(RECORD),
    ("GET", "/api/sessions/{session_id}/record.fhir.json"): Row(RECORD),
    ("GET", "/api/sessions/{session_id}/timeline"): Row(RECORD),
    ("GET", "/api/sessions/{session_id}/recordings"): Row(RECORD),
    ("GET", "/api/recordings/{recording_id}/media"): Row(RECORD),
    ("DELETE", "/api/recordings/{recording_id}"): Row(ADMIN),
    ("POST", "/api/sessions/{session_id}/marks"): Row(MENTOR, lambda w: {"label": "here"}),
    ("GET", "/api/sessions/{session_id}/marks"): Row({P.MENTOR, P.SUPERVISOR, P.ADMIN}),
    ("POST", "/api/sessions/{session_id}/feedback"): Row(
        MENTOR, lambda w: {"instrument_id": MENTOR_FORM, "trainee_id": w.ids["trainee_id"]}
    ),
    ("GET", "/api/sessions/{session_id}/feedback"): Row(RECORD),
    ("GET", "/api/feedback/{feedback_id}"): Row({P.MENTOR, P.TRAINEE, P.SUPERVISOR, P.ADMIN}),
    ("PUT", "/api/feedback/{feedback_id}"): Row(MENTOR, lambda w: {"responses": {}}),
    ("POST", "/api/feedback/{feedback_id}/submit"): Row(MENTOR),
    ("POST", "/api/feedback/{feedback_id}/acknowledge"): Row({P.TRAINEE}, lambda w: {}),
    ("POST", "/api/feedback/{feedback_id}/countersign"): Row({P.SUPERVISOR}),
    ("POST", "/api/feedback/{feedback_id}/amend"): Row(MENTOR),
    ("POST", "/api/feedback/{feedback_id}/return"): Row(
        {P.SUPERVISOR}, lambda w: {"reason": "Say which red flags were missed."}
    ),
    # A trainee across sessions: themselves, their supervisor, an admin, and a mentor of theirs
    # (who sees only what they wrote); the review home is every account's own.
    ("GET", "/api/trainees/{trainee_id}/progress"): Row(FOLLOWS_TRAINEE),
    ("GET", "/api/trainees/{trainee_id}/progress.csv"): Row(FOLLOWS_TRAINEE),
    # Who viewed the trainee's record: theirs to know, and the program's (admins).
    ("GET", "/api/trainees/{trainee_id}/views"): Row({P.TRAINEE, P.ADMIN}),
    ("GET", "/api/review"): Row(ACCOUNTS),
    ("GET", "/api/program"): Row(ADMIN),
    ("GET", "/api/program.csv"): Row(ADMIN),
    ("GET", "/api/instruments"): Row(EVERYONE_SIGNED_IN),
    ("GET", "/api/instruments/{instrument_id}"): Row(EVERYONE_SIGNED_IN),
    ("POST", "/api/admin/instruments"): Row(ADMIN, lambda w: {"nonsense": True}),
    ("GET", "/api/admin/users"): Row(ADMIN),
    ("POST", "/api/admin/users"): Row(ADMIN, lambda w: {"nonsense": True}),
    ("POST", "/api/admin/users/{user_id}/disable"): Row(ADMIN),
    ("POST", "/api/admin/users/{user_id}/enable"): Row(ADMIN),
    ("POST", "/api/admin/users/{user_id}/password-reset"): Row(ADMIN),
    ("GET", "/api/admin/assignments"): Row(ADMIN),
    # The one-time link is the credential: anyone may try one, and a wrong one is a 410.
    ("POST", "/api/password-resets/lookup"): Row(PUBLIC, lambda w: {"token": "not-a-link"}),
    ("POST", "/api/password-resets"): Row(
        PUBLIC, lambda w: {"token": "not-a-link", "password": "long-enough-1"}
    ),
    ("POST", "/api/admin/assignments"): Row(
        ADMIN,
        lambda w: {"supervisor_id": w.ids["other_supervisor_id"], "trainee_id": w.ids["user_id"]},
    ),
    ("DELETE", "/api/admin/assignments/{supervisor_id}/{trainee_id}"): Row(ADMIN),
    ("GET", "/api/admin/audit"): Row(ADMIN),
    ("GET", "/api/admin/audit/verify"): Row(ADMIN),
    ("GET", "/healthz"): Row(PUBLIC),
    ("GET", "/readyz"): Row(PUBLIC),
    ("GET", "/api/openapi.json"): Row(PUBLIC),
    ("GET", "/metrics"): Row(PUBLIC),
}

# Routes after which the caller's sign-in is over: signing out, and redeeming an invite (the
# guest's sign-in replaces it).
ENDS_SIGN_INS = {("POST", "/api/auth/logout"), ("POST", "/api/invites/{token}/redeem")}

# Which routes act on which form of the world: the draft for editing, the submitted one otherwise.
DRAFT_ROUTES = {"/api/feedback/{feedback_id}", "/api/feedback/{feedback_id}/submit"}


def route_table() -> list[tuple[str, str]]:
    return sorted((e.method, e.path) for e in ENDPOINTS)


def test_every_route_has_a_row() -> None:
    missing = [r for r in route_table() if r not in ROWS]
    assert not missing, f"routes with no row in the authorization matrix: {missing}"
    stale = [r for r in ROWS if r not in route_table()]
    assert not stale, f"rows for routes that no longer exist: {stale}"


@pytest.fixture
def config(config: Config) -> Config:
    # Each route's world redeems five invites from this one address.
    return dataclasses.replace(config, invite_requests_per_minute=100_000)


@dataclass
class Cast:
    users: dict[P, User]


@pytest.fixture
async def cast(server: RunningServer) -> Cast:
    roles = {
        P.MENTOR: Role.MENTOR,
        P.OTHER_MENTOR: Role.MENTOR,
        P.TRAINEE: Role.TRAINEE,
        P.OTHER_TRAINEE: Role.TRAINEE,
        P.SUPERVISOR: Role.SUPERVISOR,
        P.OTHER_SUPERVISOR: Role.SUPERVISOR,
        P.ADMIN: Role.ADMIN,
    }
    users = {p: await server.user(role) for p, role in roles.items()}
    await server.services.store.users.assign(users[P.SUPERVISOR].id, users[P.TRAINEE].id)
    return Cast(users)


async def _ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code in (status, 201, 204), response.text
    return response.json() if response.content else None


async def _guest(server: RunningServer, token: str) -> tuple[httpx.AsyncClient, str]:
    client = server.client()
    redeemed = await _ok(await client.post(f"/api/invites/{token}/redeem", json={}))
    client.headers["X-CSRF-Token"] = redeemed["csrf_token"]
    me = await _ok(await client.get("/api/me"))
    return client, me["user"]["id"]


@contextlib.asynccontextmanager
async def signed_in_cast(
    server: RunningServer, cast: Cast
) -> AsyncIterator[dict[P, httpx.AsyncClient]]:
    """A client signed in as each account of the cast."""
    clients = {p: await server.signed_in(user) for p, user in cast.users.items()}
    try:
        yield clients
    finally:
        for client in clients.values():
            await client.aclose()


@contextlib.asynccontextmanager
async def world(
    server: RunningServer, cast: Cast, accounts: dict[P, httpx.AsyncClient] | None = None
) -> AsyncIterator[World]:
    """A fresh world; the cast signs in afresh unless `accounts` holds its sign-ins already."""
    async with contextlib.AsyncExitStack() as stack:
        if accounts is None:
            accounts = await stack.enter_async_context(signed_in_cast(server, cast))
        yield await stack.enter_async_context(_session_world(server, cast, accounts))


@contextlib.asynccontextmanager
async def _session_world(
    server: RunningServer, cast: Cast, accounts: dict[P, httpx.AsyncClient]
) -> AsyncIterator[World]:
    svc = server.services
    clients: dict[P, httpx.AsyncClient] = {P.ANONYMOUS: server.client(), **accounts}
    mentor, other = clients[P.MENTOR], clients[P.OTHER_MENTOR]
    trainee_id = cast.users[P.TRAINEE].id
    session = await _ok(
        await mentor.post("/api/sessions", json={"title": "Ward", "trainee_ids": [trainee_id]})
    )
    sid = session["id"]
    other_trainee = cast.users[P.OTHER_TRAINEE].id
    await _ok(
        await other.post(
            "/api/sessions", json={"title": "Elsewhere", "trainee_ids": [other_trainee]}
        )
    )
    await svc.store.sessions.mark_live(sid, now=1.0)
    invites = {}
    for name in ("waiting", "admitted", "denied", "withdrawn", "spare"):
        invites[name] = await _ok(
            await mentor.post(f"/api/sessions/{sid}/invites", json={"name": name.title()})
        )
    clients[P.WAITING_GUEST], _ = await _guest(server, invites["waiting"]["token"])
    clients[P.ADMITTED_GUEST], admitted = await _guest(server, invites["admitted"]["token"])
    await svc.store.login_sessions.admit_guest(admitted, sid, now=2.0)
    clients[P.DENIED_GUEST], denied = await _guest(server, invites["denied"]["token"])
    await svc.store.login_sessions.revoke_guest(denied, sid, now=2.0)
    clients[P.WITHDRAWN_GUEST], _ = await _guest(server, invites["withdrawn"]["token"])
    withdrawn = invites["withdrawn"]["id"]
    await _ok(await mentor.post(f"/api/sessions/{sid}/invites/{withdrawn}/revoke"), 204)

    form = {"instrument_id": MENTOR_FORM, "trainee_id": trainee_id}
    draft = await _ok(await mentor.post(f"/api/sessions/{sid}/feedback", json=form), 201)
    template = await _ok(await mentor.get(f"/api/instruments/{MENTOR_FORM}"))
    submitted = await _ok(await mentor.post(f"/api/sessions/{sid}/feedback", json=form), 201)
    await svc.feedback.submit(await _stored(server, submitted["id"]))
    doc: Doc[Text] = Doc()
    text = doc.get("notes", type=Text)
    text += "seen"
    version = await svc.notes_store.append(
        sid, doc.get_update(), author_id=cast.users[P.MENTOR].id, author_name="M", at=3.0
    )
    recording_id = await stored_recording(svc, sid, b"\x1a\x45\xdf\xa3 a recording")
    spare_user = await server.user(Role.TRAINEE)
    await svc.store.users.assign(cast.users[P.OTHER_SUPERVISOR].id, spare_user.id)
    ids = {
        "session_id": sid,
        "invite_id": invites["spare"]["id"],
        "token": invites["spare"]["token"],
        "trainee_id": trainee_id,
        "guest_id": admitted,
        "draft_id": draft["id"],
        "version_id": str(version),
        "feedback_id": submitted["id"],
        "instrument_id": template["id"],
        "user_id": spare_user.id,
        "supervisor_id": cast.users[P.OTHER_SUPERVISOR].id,
        "other_supervisor_id": cast.users[P.OTHER_SUPERVISOR].id,
        "recording_id": recording_id,
    }
    built = World(ids, clients)
    try:
        yield built
    finally:
        for p, client in clients.items():
            if p not in accounts:
                await client.aclose()


async def _stored(server: RunningServer, form_id: str) -> Any:
    form = await server.services.feedback.get(form_id)
    assert form is not None
    return form


async def test_every_principal_on_every_route(server: RunningServer, cast: Cast) -> None:
    unexpected: list[str] = []
    # Reads change nothing a later request sees, so they share one world; each route that
    # changes state gets a fresh one (a session ended or an invite withdrawn by one principal
    # must not decide the answer another principal gets). The accounts' sign-ins are shared
    # too, but by routes that end them: a sign-in ended by any other route would fail every
    # later row loudly (401 where 403/404 or a yes is expected), never pass one silently.
    async with (
        signed_in_cast(server, cast) as accounts,
        world(server, cast, accounts) as shared,
    ):
        for method, template in route_table():
            if method == "GET":
                await _check_route(shared, method, template, unexpected)
                continue
            own = None if (method, template) in ENDS_SIGN_INS else accounts
            async with world(server, cast, own) as w:
                await _check_route(w, method, template, unexpected)
    assert not unexpected, "\n".join(unexpected)


async def _check_route(w: World, method: str, template: str, unexpected: list[str]) -> None:
    row = ROWS[(method, template)]
    path = template
    if template in DRAFT_ROUTES and method != "GET":
        path = template.replace("{feedback_id}", w.ids["draft_id"])
    if template.startswith("/api/admin/assignments/"):
        # The world's own assignment (other supervisor → spare trainee), not the cast's.
        path = path.replace("{trainee_id}", w.ids["user_id"])
    path = w.path(path)
    for p in sorted(P, key=lambda p: p in (row.allowed or set())):
        body = row.body(w) if row.body else None
        response = await w.clients[p].request(method, path, json=body)
        where = f"{method} {template} as {p.value}: {response.status_code}"
        if response.status_code >= 500:
            unexpected.append(f"{where} (server error)")
        elif row.allowed is None:
            continue
        elif p in row.allowed:
            if response.status_code in (401, 403, 404):
                unexpected.append(f"{where} refused {response.text[:120]}")
        else:
            expected = {401} if p in SIGNED_OUT else {403, 404}
            error = response.json() if response.content else {}
            if response.status_code not in expected:
                unexpected.append(f"{where} ALLOWED (expected {sorted(expected)})")
            elif not error.get("error") or not error.get("message"):
                unexpected.append(f"{where} refused without a reason")


PRIVILEGED: dict[str, ClientMessage] = {
    "admit": Admit(peer=PeerId("nobody")),
    "deny": Deny(peer=PeerId("nobody")),
    "mark": Mark(label="there"),
    "recording": RecordingCommand(action="start"),
}


async def test_every_principal_on_the_signaling_socket(server: RunningServer, cast: Cast) -> None:
    expected_close = {
        P.ANONYMOUS: 4401,
        P.DENIED_GUEST: 4401,
        P.WITHDRAWN_GUEST: 4401,
        P.OTHER_MENTOR: 4404,
        P.OTHER_TRAINEE: 4404,
        P.OTHER_SUPERVISOR: 4404,
        P.ADMIN: 4403,
    }
    unexpected: list[str] = []
    async with world(server, cast) as w:
        sid = w.ids["session_id"]
        for p in P:
            async with signaling(server, sid, w.clients[p]) as ws:
                if p in expected_close:
                    code = await ws.closed()
                    if code != expected_close[p]:
                        unexpected.append(f"{p.value}: socket closed {code}")
                    continue
                await ws.send(Join())
                for kind, message in PRIVILEGED.items():
                    await ws.send(message)
                    ping = uuid.uuid4().hex[:8]
                    await ws.send(Ping(id=ping))
                    while (await ws.expect(Pong)).id != ping:
                        pass
                    refused = any(
                        isinstance(m, ErrorMessage) and m.code == "forbidden" for m in ws.received
                    )
                    ws.received.clear()
                    if refused != (p is not P.MENTOR):
                        unexpected.append(
                            f"{p.value}: `{kind}` {'refused' if refused else 'let through'}"
                        )
    assert not unexpected, "\n".join(unexpected)
