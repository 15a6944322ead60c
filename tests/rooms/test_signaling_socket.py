"""The signaling socket through the real server: lobby, admission, relay, refusals, resume."""

from __future__ import annotations

import asyncio

from server.infra.roles import Role
from signaling import (
    Admit,
    Chat,
    ChatPosted,
    ErrorMessage,
    IceCandidate,
    Join,
    Leave,
    Lobby,
    Mark,
    MarkAdded,
    PeerJoined,
    PeerLeft,
    Ping,
    Pong,
    SessionDescription,
    Signal,
    SignalRelay,
    Waiting,
    Welcome,
)
from tests.rooms.client import admit_guest, signaling
from tests.support import RunningServer, Scene, wait_for


async def test_guest_waits_in_lobby_until_admitted_then_signals(scene: Scene) -> None:
    server = scene.server
    async with signaling(server, scene.session_id, scene.mentor_http) as mentor:
        await mentor.send(Join())
        welcome = await mentor.expect(Welcome)
        assert welcome.role == "mentor"
        assert welcome.peers == ()
        assert (await mentor.expect(Lobby)).waiting == ()

        async with signaling(server, scene.session_id, scene.guest_http) as guest:
            await guest.send(Join(display_name="Sam"))
            waiting = await guest.expect(Waiting)
            assert waiting.resume
            lobby = await mentor.expect(Lobby)
            assert [(p.display_name, p.role) for p in lobby.waiting] == [("Sam", "trainee")]
            guest_peer = lobby.waiting[0].id

            # Nothing of the room reaches the lobby.
            await guest.send(Chat(text="let me in"))
            assert (await guest.expect(ErrorMessage)).code == "not-admitted"

            await mentor.send(Admit(peer=guest_peer))
            guest_welcome = await guest.expect(Welcome)
            assert [p.id for p in guest_welcome.peers] == [welcome.peer]
            assert (await mentor.expect(PeerJoined)).peer.id == guest_peer

            offer = SessionDescription(type="offer", sdp="v=0\r\n")
            await guest.send(Signal(to=welcome.peer, description=offer))
            relayed = await mentor.expect(SignalRelay)
            assert relayed.from_ == guest_peer
            assert relayed.description == offer
            candidate = IceCandidate(candidate="candidate:1 1 udp 1 127.0.0.1 9 typ host")
            await mentor.send(Signal(to=guest_peer, candidate=candidate))
            assert (await guest.expect(SignalRelay)).candidate == candidate

            await guest.send(Chat(text="hello"))
            posted = await mentor.expect(ChatPosted)
            assert (posted.from_, posted.text) == (guest_peer, "hello")

    # The session went live and the room's events reached the audit log (both are written
    # by the room's record writer, off the socket's path).
    async def live() -> bool:
        session = await server.services.store.sessions.get(scene.session_id)
        return session is not None and session.status == "live"

    await wait_for(live)

    async def audited() -> bool:
        actions = {e.action for e in await server.services.store.audit.recent(50)}
        return {"room.join", "room.admit"} <= actions

    await wait_for(audited)


async def test_a_trainee_cannot_admit_and_a_forged_target_is_refused(scene: Scene) -> None:
    server = scene.server
    async with (
        signaling(server, scene.session_id, scene.mentor_http) as mentor,
        signaling(server, scene.session_id, scene.guest_http) as guest,
    ):
        await mentor.send(Join())
        await mentor.expect(Welcome)
        await admit_guest(mentor, guest)

        await guest.send(Admit(peer="anyone"))
        assert (await guest.expect(ErrorMessage)).code == "forbidden"
        await guest.send(
            Signal(to="not-in-this-room", description=SessionDescription(type="offer", sdp="x"))
        )
        assert (await guest.expect(ErrorMessage)).code == "unknown-peer"
        # The room carries on for everyone.
        await guest.send(Ping(id="still-there"))
        assert (await guest.expect(Pong)).id == "still-there"


async def test_bad_frames_get_errors_then_a_policy_close(scene: Scene) -> None:
    async with signaling(scene.server, scene.session_id, scene.mentor_http) as mentor:
        await mentor.send_raw("{not json")
        assert (await mentor.expect(ErrorMessage)).code == "bad-json"
        await mentor.send_raw('{"type": "teleport"}')
        assert (await mentor.expect(ErrorMessage)).code == "unknown-type"
        await mentor.send_raw('{"type": "signal", "to": "x"}')
        assert (await mentor.expect(ErrorMessage)).code == "invalid"
        await mentor.send(Chat(text="before join"))
        assert (await mentor.expect(ErrorMessage)).code == "join-first"
        for _ in range(10):
            await mentor.send_raw("[]")
        assert await mentor.closed() == 1008


async def test_oversize_frame_closes_1009(scene: Scene) -> None:
    async with signaling(scene.server, scene.session_id, scene.mentor_http) as mentor:
        await mentor.send(Join())
        await mentor.expect(Welcome)
        await mentor.send_raw('{"type": "chat", "text": "' + "x" * 70_000 + '"}')
        assert await mentor.closed() == 1009


async def test_a_flood_closes_1008_and_the_room_carries_on(scene: Scene) -> None:
    server = scene.server
    async with (
        signaling(server, scene.session_id, scene.mentor_http) as mentor,
        signaling(server, scene.session_id, scene.guest_http) as guest,
    ):
        await mentor.send(Join())
        await mentor.expect(Welcome)
        await guest.send(Join())
        await guest.expect(Waiting)
        for i in range(300):
            await guest.send(Ping(id=str(i)))
        assert await guest.closed() == 1008
        await mentor.send(Ping(id="ok"))
        assert (await mentor.expect(Pong)).id == "ok"


async def test_refusals_carry_their_close_codes(scene: Scene) -> None:
    server = scene.server
    async with signaling(server, scene.session_id) as anonymous:
        assert await anonymous.closed() == 4401
    async with signaling(
        server, scene.session_id, scene.mentor_http, origin="https://evil.example"
    ) as foreign:
        assert await foreign.closed() == 4403
    async with signaling(server, "no-such-session", scene.mentor_http) as missing:
        assert await missing.closed() == 4404
    # A guest of this session cannot reach another session, nor learn that it exists.
    other = await scene.mentor_http.post("/api/sessions", json={"title": "Another"})
    async with signaling(server, other.json()["id"], scene.guest_http) as elsewhere:
        assert await elsewhere.closed() == 4404
    audit = await server.services.store.audit.recent(50)
    # A signed-in principal's refusals are each on record...
    assert {e.detail["code"] for e in audit if e.action == "socket.refused"} == {"4404"}
    # ...anonymous ones (no sign-in, a foreign origin) are counted, and sampled into the log
    # (one row a minute at most, so a flood cannot grow it).
    assert len([e for e in audit if e.action == "socket.refused-anonymous"]) == 1
    metrics = server.services.metrics.render().decode()
    for code in ("4401", "4403", "4404"):
        assert f'code="{code}",endpoint="sessions"}}' in metrics


async def test_ticket_is_single_use(scene: Scene) -> None:
    server = scene.server
    issued = await scene.mentor_http.post("/api/tickets", json={"session_id": scene.session_id})
    assert issued.status_code == 200
    ticket = issued.json()["ticket"]
    async with signaling(server, scene.session_id, query=f"?ticket={ticket}") as first:
        await first.send(Join())
        assert (await first.expect(Welcome)).role == "mentor"
    async with signaling(server, scene.session_id, query=f"?ticket={ticket}") as replay:
        assert await replay.closed() == 4401


async def test_resume_keeps_the_peer_and_a_second_connection_replaces_the_first(
    scene: Scene,
) -> None:
    server = scene.server
    async with signaling(server, scene.session_id, scene.mentor_http) as mentor:
        await mentor.send(Join())
        await mentor.expect(Welcome)
        async with signaling(server, scene.session_id, scene.guest_http) as guest:
            waiting, first = await admit_guest(mentor, guest)
            token = waiting.resume
        # The guest's socket dropped (a phone changing networks); it comes back in time.
        async with signaling(server, scene.session_id, scene.guest_http) as back:
            await back.send(Join(resume=token))
            again = await back.expect(Welcome)
            assert again.peer == first.peer
            assert again.resumed
            async with signaling(server, scene.session_id, scene.guest_http) as newer:
                await newer.send(Join(resume=token))
                assert (await newer.expect(Welcome)).peer == first.peer
                assert await back.closed() == 4409
        # Nobody was announced as leaving, and there is still exactly one guest.
        await mentor.send(Ping(id="sync"))
        await mentor.expect(Pong)
        assert not any(isinstance(m, PeerLeft) for m in mentor.received)
        joined = [m for m in mentor.received if isinstance(m, PeerJoined)]
        assert len(joined) == 1


async def test_ending_the_session_closes_sockets_4410_and_invites(scene: Scene) -> None:
    server = scene.server
    async with signaling(server, scene.session_id, scene.guest_http) as guest:
        await guest.send(Join())
        await guest.expect(Waiting)
        ended = await scene.mentor_http.post(f"/api/sessions/{scene.session_id}/end")
        assert ended.status_code == 200
        assert ended.json()["status"] == "ended"
        assert await guest.closed() == 4410
    # The guest's access ended with the session.
    assert (await scene.guest_http.get("/api/me")).status_code == 401
    async with signaling(server, scene.session_id, scene.mentor_http) as late:
        assert await late.closed() == 4410


async def test_one_stalled_reader_does_not_delay_the_others(scene: Scene) -> None:
    """A member who stops reading is closed 1013; the others keep getting their messages."""
    server = scene.server
    async with (
        signaling(server, scene.session_id, scene.mentor_http, receive_buffer=65536) as mentor,
        signaling(server, scene.session_id, scene.guest_http) as guest,
    ):
        await mentor.send(Join())
        mentor_welcome = await mentor.expect(Welcome)
        await admit_guest(mentor, guest)
        # The mentor stops reading; the guest sends it large offers (as big as SDP may be),
        # slowly enough not to trip the rate limit, until the mentor's queue overflows.
        huge = SessionDescription(type="offer", sdp="a" * 60_000)

        async def guest_talks() -> None:
            for _ in range(2000):
                await guest.send(Signal(to=mentor_welcome.peer, description=huge))
                await asyncio.sleep(0.06)

        async def mentor_socket_closed() -> bool:
            return open_sockets(server) == 1

        talker = asyncio.create_task(guest_talks())
        try:
            await wait_for(mentor_socket_closed, timeout=60)
        finally:
            talker.cancel()
        # The guest was never held up: it still gets answers at once.
        await guest.send(Ping(id="alive"))
        assert (await guest.expect(Pong, timeout=2)).id == "alive"
        # The phone comes back from the background a few seconds later and reads: what was
        # queued for it, then the close frame that says why, never a cut connection (1006;
        # issue 13, defect 5).
        await asyncio.sleep(3)
        assert await mentor.closed(timeout=30) == 1013
        assert mentor_welcome.peer


def open_sockets(server: RunningServer) -> float:
    for line in server.services.metrics.render().decode().splitlines():
        if line.startswith('preceptor_websockets_open{endpoint="signaling"}'):
            return float(line.split()[-1])
    raise AssertionError("gauge missing")


async def test_signing_out_or_being_disabled_closes_open_sockets(scene: Scene) -> None:
    server = scene.server
    async with signaling(server, scene.session_id, scene.mentor_http) as mentor:
        await mentor.send(Join())
        await mentor.expect(Welcome)
        await scene.mentor_http.post("/api/auth/logout")
        assert await mentor.closed() == 4401
    async with signaling(server, scene.session_id, scene.mentor_http) as again:
        assert await again.closed() == 4401

    trainee = await server.user(Role.TRAINEE)
    admin = await server.user(Role.ADMIN)
    mentor_http = await server.signed_in(scene.mentor)
    session = (
        await mentor_http.post("/api/sessions", json={"title": "T", "trainee_ids": [trainee.id]})
    ).json()
    trainee_http = await server.signed_in(trainee)
    admin_http = await server.signed_in(admin)
    async with signaling(server, session["id"], trainee_http) as connected:
        await connected.send(Join())
        await connected.expect(Welcome)
        await admin_http.post(f"/api/admin/users/{trainee.id}/disable")
        assert await connected.closed() == 4401
    for client in (mentor_http, trainee_http, admin_http):
        await client.aclose()


async def test_a_mark_is_stored_before_the_mentor_hears_of_it(scene: Scene) -> None:
    server = scene.server
    async with signaling(server, scene.session_id, scene.mentor_http) as mentor:
        await mentor.send(Join())
        await mentor.expect(Welcome)
        for label in ("", "missed red flag"):
            await mentor.send(Mark(label=label, tags=("safety",)))
            added = await mentor.expect(MarkAdded)
            # Citable at once: the record already has it.
            stored = await server.services.store.marks.for_session(scene.session_id)
            assert added.id in {m.id for m in stored}
            assert added.label == label


async def test_a_sign_in_ended_behind_the_servers_back_closes_its_socket(scene: Scene) -> None:
    """Disabled from the CLI (database only, nothing on the bus): the periodic re-check
    closes the socket."""
    server = scene.server
    async with signaling(server, scene.session_id, scene.mentor_http) as mentor:
        await mentor.send(Join())
        await mentor.expect(Welcome)
        await server.services.store.users.set_disabled(scene.mentor.id, True)
        await server.services.rooms.close_ended_logins()
        assert await mentor.closed() == 4401


async def test_the_record_shows_who_was_in_the_room_and_when(scene: Scene) -> None:
    server = scene.server
    async with signaling(server, scene.session_id, scene.mentor_http) as mentor:
        await mentor.send(Join())
        await mentor.expect(Welcome)
        async with signaling(server, scene.session_id, scene.guest_http) as guest:
            await admit_guest(mentor, guest)
            await guest.send(Leave())
            assert await guest.closed() == 1000

    async def recorded() -> bool:
        record = (await scene.mentor_http.get(f"/api/sessions/{scene.session_id}/record")).json()
        people = {p["name"]: p for p in record["participants"]}
        return "Sam Student" in people and people["Sam Student"]["left_at"] is not None

    await wait_for(recorded)
    record = (await scene.mentor_http.get(f"/api/sessions/{scene.session_id}/record")).json()
    people = {p["name"]: p for p in record["participants"]}
    assert people["Test Mentor"]["role"] == "mentor"
    assert people["Sam Student"]["role"] == "trainee"
    actions = [e["action"] for e in record["timeline"]]
    assert actions.index("room.join") < actions.index("room.admit") < actions.index("room.leave")
    assert "record.viewed" not in actions
