"""The trainee in the call hears when feedback about them is submitted (issue 9: "the trainee is
told in the call when feedback arrives"), wherever the room runs. The notice carries no content."""

from __future__ import annotations

import httpx
import pytest

from server.infra.roles import Role, User
from signaling import FeedbackNotice, Join, Ping, Pong, Welcome
from tests.feedback.test_workflow_api import MINI_CEX_OK
from tests.rooms.client import SignalingClient, admit_guest, signaling
from tests.support import RunningServer


async def _submit(mentor_http: httpx.AsyncClient, session_id: str, trainee: User) -> str:
    form = await mentor_http.post(
        f"/api/sessions/{session_id}/feedback",
        json={"instrument_id": "mini-cex-abim", "trainee_id": trainee.id, "responses": MINI_CEX_OK},
    )
    assert form.status_code == 201, form.text
    submitted = await mentor_http.post(f"/api/feedback/{form.json()['id']}/submit")
    assert submitted.status_code == 200, submitted.text
    form_id: str = form.json()["id"]
    return form_id


async def _heard_nothing(client: SignalingClient) -> bool:
    await client.send(Ping(id="sync"))
    await client.expect(Pong)
    return not [m for m in client.received if isinstance(m, FeedbackNotice)]


async def _session(server: RunningServer) -> tuple[httpx.AsyncClient, User, str]:
    mentor = await server.user(Role.MENTOR)
    trainee = await server.user(Role.TRAINEE)
    mentor_http = await server.signed_in(mentor)
    created = await mentor_http.post(
        "/api/sessions", json={"title": "Ward round", "trainee_ids": [trainee.id]}
    )
    return mentor_http, trainee, created.json()["id"]


async def test_the_trainee_in_the_call_hears_feedback_arrived(server: RunningServer) -> None:
    mentor_http, trainee, session_id = await _session(server)
    trainee_http = await server.signed_in(trainee)
    async with (
        signaling(server, session_id, mentor_http) as in_mentor,
        signaling(server, session_id, trainee_http) as in_trainee,
    ):
        await in_mentor.send(Join())
        await in_mentor.expect(Welcome)
        await in_trainee.send(Join())
        await in_trainee.expect(Welcome)
        form_id = await _submit(mentor_http, session_id, trainee)
        notice = await in_trainee.expect(FeedbackNotice)
        assert notice == FeedbackNotice(form=form_id, state="submitted")
        assert await _heard_nothing(in_mentor)
    await mentor_http.aclose()
    await trainee_http.aclose()


async def test_a_trainee_who_came_by_invite_link_hears_it_as_a_guest(server: RunningServer) -> None:
    mentor_http, trainee, session_id = await _session(server)
    invite = await mentor_http.post(f"/api/sessions/{session_id}/invites", json={"name": "Sam"})
    guest_http = server.client()
    redeemed = await guest_http.post(f"/api/invites/{invite.json()['token']}/redeem", json={})
    guest_http.headers["X-CSRF-Token"] = redeemed.json()["csrf_token"]
    async with (
        signaling(server, session_id, mentor_http) as in_mentor,
        signaling(server, session_id, guest_http) as in_guest,
    ):
        await in_mentor.send(Join())
        await in_mentor.expect(Welcome)
        await admit_guest(in_mentor, in_guest)
        form_id = await _submit(mentor_http, session_id, trainee)
        assert (await in_guest.expect(FeedbackNotice)).form == form_id
        assert await _heard_nothing(in_mentor)
    await mentor_http.aclose()
    await guest_http.aclose()


@pytest.mark.postgres
@pytest.mark.redis
async def test_the_notice_reaches_a_room_run_by_another_node(
    nodes: tuple[RunningServer, RunningServer],
) -> None:
    a, b = nodes
    mentor_http, trainee, session_id = await _session(a)
    trainee_http = await a.signed_in(trainee)
    async with signaling(a, session_id, trainee_http) as in_trainee:
        await in_trainee.send(Join())
        await in_trainee.expect(Welcome)
        # The room runs on node a; the mentor submits through node b.
        async with b.client(cookies=mentor_http.cookies) as mentor_on_b:
            mentor_on_b.headers["X-CSRF-Token"] = mentor_http.headers["X-CSRF-Token"]
            form_id = await _submit(mentor_on_b, session_id, trainee)
        assert (await in_trainee.expect(FeedbackNotice, timeout=10)).form == form_id
    await mentor_http.aclose()
    await trainee_http.aclose()
