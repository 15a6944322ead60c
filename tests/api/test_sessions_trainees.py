"""Trainees and guests of a session, as the pages manage them (issue 9, "Trainees in the pages"):
finding trainee accounts by name, listing them in a session then or later, invites for a listed
account, linking an admitted guest to the account they turned out to have, a denied guest's link,
and what an admitted guest may still read after the end."""

from __future__ import annotations

import uuid

import httpx

from server.infra.roles import Role, User
from signaling import Deny, Join, Lobby, Waiting, Welcome
from tests.rooms.client import admit_guest, signaling
from tests.support import RunningServer, Scene, wait_for

MINI_CEX = "mini-cex-abim"


async def _trainee(server: RunningServer, name: str) -> User:
    return await server.services.accounts.create_user(
        email=f"trainee-{uuid.uuid4().hex[:8]}@example.org",
        name=name,
        role=Role.TRAINEE,
        password="s3cret-pass!",
        actor_id=None,
    )


async def _redeem(server: RunningServer, token: str, name: str | None = None) -> httpx.AsyncClient:
    guest = server.client()
    body = {"display_name": name} if name else {}
    redeemed = await guest.post(f"/api/invites/{token}/redeem", json=body)
    assert redeemed.status_code == 200, redeemed.text
    guest.headers["X-CSRF-Token"] = redeemed.json()["csrf_token"]
    return guest


async def test_mentors_find_trainees_by_name_and_see_no_emails(server: RunningServer) -> None:
    jane = await _trainee(server, "Jane Okafor")
    await _trainee(server, "Janet Li")
    disabled = await _trainee(server, "Jane Disabled")
    await server.services.store.users.set_disabled(disabled.id, True)
    await server.user(Role.SUPERVISOR)  # not a trainee: never found
    mentor = await server.signed_in(await server.user(Role.MENTOR))

    found = await mentor.get("/api/trainees", params={"q": "jAnE"})
    assert found.status_code == 200, found.text
    assert [p["name"] for p in found.json()] == ["Jane Okafor", "Janet Li"]
    assert all(set(p) == {"id", "name"} for p in found.json())
    assert "@" not in found.text
    both_words = await mentor.get("/api/trainees", params={"q": "oka  jane"})
    assert [p["id"] for p in both_words.json()] == [jane.id]
    # LIKE's wildcards are taken literally: "%" finds nobody rather than everybody.
    assert (await mentor.get("/api/trainees", params={"q": "%%"})).json() == []
    for q in ("", "j", " j "):
        short = await mentor.get("/api/trainees", params={"q": q})
        assert short.status_code == 422
        assert "at least 2 letters" in short.json()["message"]
    for i in range(12):
        await _trainee(server, f"Many Trainee{i:02d}")
    assert len((await mentor.get("/api/trainees", params={"q": "many"})).json()) == 10

    trainee = await server.signed_in(jane)
    assert (await trainee.get("/api/trainees", params={"q": "jane"})).status_code == 403
    await trainee.aclose()
    await mentor.aclose()


async def test_a_session_made_with_a_trainee_and_a_start_time_takes_feedback(
    server: RunningServer,
) -> None:
    """Dead end 1: a session made in the page had no trainee, so no feedback."""
    jane = await _trainee(server, "Jane Okafor")
    mentor = await server.signed_in(await server.user(Role.MENTOR))
    created = await mentor.post(
        "/api/sessions",
        json={"title": "Knee exam", "trainee_ids": [jane.id], "scheduled_for": 1_900_000_000},
    )
    assert created.status_code == 201, created.text
    session = created.json()
    assert session["trainees"] == [{"id": jane.id, "name": "Jane Okafor"}]
    assert session["scheduled_for"] == 1_900_000_000
    assert {"trainees.manage", "guests.manage", "invites.list"} <= set(session["can"])
    form = await mentor.post(
        f"/api/sessions/{session['id']}/feedback",
        json={"instrument_id": MINI_CEX, "trainee_id": jane.id},
    )
    assert form.status_code == 201, form.text
    bad_time = await mentor.post("/api/sessions", json={"title": "x", "scheduled_for": -5})
    assert bad_time.status_code == 422
    await mentor.aclose()


async def test_trainees_are_added_later_and_removed_only_without_feedback(
    server: RunningServer,
) -> None:
    jane = await _trainee(server, "Jane Okafor")
    amir = await _trainee(server, "Amir Haddad")
    mentor = await server.signed_in(await server.user(Role.MENTOR))
    sid = (await mentor.post("/api/sessions", json={"title": "Ward round"})).json()["id"]

    added = await mentor.post(f"/api/sessions/{sid}/trainees", json={"trainee_id": jane.id})
    assert added.status_code == 200, added.text
    assert [t["name"] for t in added.json()["trainees"]] == ["Jane Okafor"]
    again = await mentor.post(f"/api/sessions/{sid}/trainees", json={"trainee_id": jane.id})
    assert [t["id"] for t in again.json()["trainees"]] == [jane.id]
    await mentor.post(f"/api/sessions/{sid}/trainees", json={"trainee_id": amir.id})
    not_trainee = await mentor.post(
        f"/api/sessions/{sid}/trainees", json={"trainee_id": (await server.user(Role.MENTOR)).id}
    )
    assert not_trainee.status_code == 422

    # Jane now sees the session; an invite made for her account is withdrawn with her.
    trainee = await server.signed_in(jane)
    assert [s["id"] for s in (await trainee.get("/api/sessions")).json()] == [sid]
    invite = (
        await mentor.post(f"/api/sessions/{sid}/invites", json={"trainee_id": jane.id})
    ).json()
    await mentor.post(
        f"/api/sessions/{sid}/feedback", json={"instrument_id": MINI_CEX, "trainee_id": amir.id}
    )
    kept = await mentor.delete(f"/api/sessions/{sid}/trainees/{amir.id}")
    assert kept.status_code == 409
    assert "already has feedback" in kept.json()["message"]
    removed = await mentor.delete(f"/api/sessions/{sid}/trainees/{jane.id}")
    assert removed.status_code == 200, removed.text
    assert [t["id"] for t in removed.json()["trainees"]] == [amir.id]
    assert (await trainee.get(f"/api/sessions/{sid}")).status_code == 404
    listed = (await mentor.get(f"/api/sessions/{sid}/invites")).json()
    assert [(i["id"], i["state"]) for i in listed] == [(invite["id"], "revoked")]
    gone = await mentor.delete(f"/api/sessions/{sid}/trainees/{jane.id}")
    assert gone.status_code == 404
    await trainee.aclose()
    await mentor.aclose()


async def test_an_invite_for_an_account_tells_the_page_to_offer_sign_in(
    server: RunningServer,
) -> None:
    jane = await _trainee(server, "Jane Okafor")
    mentor = await server.signed_in(await server.user(Role.MENTOR))
    sid = (
        await mentor.post("/api/sessions", json={"title": "OSCE", "trainee_ids": [jane.id]})
    ).json()["id"]
    for_jane = (
        await mentor.post(f"/api/sessions/{sid}/invites", json={"trainee_id": jane.id})
    ).json()
    for_guest = (await mentor.post(f"/api/sessions/{sid}/invites", json={"name": "Kim"})).json()
    async with server.client() as phone:
        info = (await phone.get(f"/api/invites/{for_jane['token']}")).json()
        assert info["for_account"] is True
        assert info["signed_in_as_invitee"] is False
        assert info["session_id"] == sid
        assert info["invitee_name"] == "Jane Okafor"
        guest_info = (await phone.get(f"/api/invites/{for_guest['token']}")).json()
        assert guest_info["for_account"] is False
    signed_in = await server.signed_in(jane)
    info = (await signed_in.get(f"/api/invites/{for_jane['token']}")).json()
    assert info["signed_in_as_invitee"] is True
    # Looking is not using: the link still has all its uses.
    listed = (await mentor.get(f"/api/sessions/{sid}/invites")).json()
    assert {i["uses"] for i in listed} == {0}
    await signed_in.aclose()
    await mentor.aclose()


async def test_a_mentor_links_an_admitted_guest_to_a_trainee_account(scene: Scene) -> None:
    server, sid = scene.server, scene.session_id
    jane = await _trainee(server, "Jane Okafor")
    async with (
        signaling(server, sid, scene.mentor_http) as mentor,
        signaling(server, sid, scene.guest_http) as guest,
    ):
        await mentor.send(Join())
        await mentor.expect(Welcome)
        await admit_guest(mentor, guest)

        async def admitted() -> bool:
            found = await scene.mentor_http.get(f"/api/sessions/{sid}/guests")
            return len(found.json()) == 1

        await wait_for(admitted, timeout=5)
    guests = (await scene.mentor_http.get(f"/api/sessions/{sid}/guests")).json()
    assert guests[0]["name"] == "Sam Student"
    assert guests[0]["linked_to"] is None
    url = f"/api/sessions/{sid}/guests/{guests[0]['id']}/link"
    assert (await scene.guest_http.post(url, json={"trainee_id": jane.id})).status_code == 403
    linked = await scene.mentor_http.post(url, json={"trainee_id": jane.id})
    assert linked.status_code == 200, linked.text
    assert linked.json()["linked_to"] == {"id": jane.id, "name": "Jane Okafor"}

    # The account is listed: its own sign-in sees the record, which names the visit by it;
    # the guest's sign-in gains nothing of the account's.
    trainee = await server.signed_in(jane)
    record = await trainee.get(f"/api/sessions/{sid}/record")
    assert record.status_code == 200, record.text
    assert "Jane Okafor" in [p["name"] for p in record.json()["participants"]]
    assert [t["id"] for t in record.json()["session"]["trainees"]] == [jane.id]
    me = (await scene.guest_http.get("/api/me")).json()
    assert me["user"]["id"] != jane.id
    feedback = await scene.mentor_http.post(
        f"/api/sessions/{sid}/feedback", json={"instrument_id": MINI_CEX, "trainee_id": jane.id}
    )
    assert feedback.status_code == 201
    audit = [e.action for e in await server.services.store.audit.recent(30)]
    assert "guest.linked" in audit
    unlinked = await scene.mentor_http.post(url, json={"trainee_id": None})
    assert unlinked.json()["linked_to"] is None
    nobody = await scene.mentor_http.post(
        f"/api/sessions/{sid}/guests/nobody/link", json={"trainee_id": jane.id}
    )
    assert nobody.status_code == 404
    await trainee.aclose()


async def test_a_denied_guest_cannot_knock_again_with_the_same_link(scene: Scene) -> None:
    server, sid = scene.server, scene.session_id
    invite = (
        await scene.mentor_http.post(f"/api/sessions/{sid}/invites", json={"name": "Pat"})
    ).json()
    first = await _redeem(server, invite["token"])
    second = await _redeem(server, invite["token"], "Not Pat")
    async with (
        signaling(server, sid, scene.mentor_http) as mentor,
        signaling(server, sid, first) as pat,
    ):
        await mentor.send(Join())
        await mentor.expect(Welcome)
        await admit_guest(mentor, pat)
        async with signaling(server, sid, second) as stranger:
            await stranger.send(Join())
            await stranger.expect(Waiting)
            lobby = await mentor.expect(Lobby)
            while not lobby.waiting:
                lobby = await mentor.expect(Lobby)
            await mentor.send(Deny(peer=lobby.waiting[0].id))
            assert await stranger.closed() == 4403

        async def withdrawn() -> bool:
            listed = (await scene.mentor_http.get(f"/api/sessions/{sid}/invites")).json()
            return any(i["id"] == invite["id"] and i["state"] == "denied" for i in listed)

        await wait_for(withdrawn, timeout=5)
    async with server.client() as again:
        knock = await again.post(f"/api/invites/{invite['token']}/redeem", json={})
        assert knock.status_code == 410
        assert knock.json()["error"] == "invite-denied"
        assert "did not let you in" in knock.json()["message"]
        info = await again.get(f"/api/invites/{invite['token']}")
        assert info.json()["error"] == "invite-denied"
    # Pat, already in through the same link, keeps their place.
    assert (await first.get("/api/me")).status_code == 200
    await first.aclose()
    await second.aclose()


async def test_an_admitted_guest_reads_the_record_after_the_end(scene: Scene) -> None:
    """Dead end 5: the end signed the guest out, so "Session record" said "not signed in"."""
    server, sid = scene.server, scene.session_id
    invite = (
        await scene.mentor_http.post(f"/api/sessions/{sid}/invites", json={"name": "Lee"})
    ).json()
    waiting = await _redeem(server, invite["token"])
    async with (
        signaling(server, sid, scene.mentor_http) as mentor,
        signaling(server, sid, scene.guest_http) as guest,
    ):
        await mentor.send(Join())
        await mentor.expect(Welcome)
        await admit_guest(mentor, guest)

        async def admitted() -> bool:
            found = await scene.guest_http.get(f"/api/sessions/{sid}/record")
            return found.status_code == 200

        await wait_for(admitted, timeout=5)
        ended = await scene.mentor_http.post(f"/api/sessions/{sid}/end")
        assert ended.status_code == 200
        assert await guest.closed() == 4410
    assert (await scene.guest_http.get(f"/api/sessions/{sid}/record")).status_code == 200
    assert (await scene.guest_http.get(f"/api/sessions/{sid}/notes")).status_code == 200
    # ... but never the room again, and a guest still in the lobby was signed out.
    async with signaling(server, sid, scene.guest_http) as late:
        assert await late.closed() == 4410
    assert (await waiting.get("/api/me")).status_code == 401
    # The link says the session ended (not "expired" or "used up"), and admits nobody.
    async with server.client() as phone:
        info = await phone.get(f"/api/invites/{invite['token']}")
        assert info.status_code == 200
        assert info.json()["ended"] is True
        refused = await phone.post(f"/api/invites/{invite['token']}/redeem", json={})
        assert refused.status_code == 410
        assert refused.json()["error"] == "session-ended"
    await waiting.aclose()
