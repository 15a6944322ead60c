"""One live connection per person, through the real server (issue 9, dead end 2): a second tab
takes the member over, the first is closed 4409 and may take it back; the others renegotiate.
Also the refusals a page must tell apart (dead end 3) and the end of a session for everyone."""

from __future__ import annotations

from signaling import (
    Deny,
    Join,
    Lobby,
    PeerJoined,
    PeerLeft,
    Ping,
    Pong,
    Waiting,
    Welcome,
)
from signaling.close_codes import CLOSE_ENDED, CLOSE_NOT_ALLOWED, CLOSE_REPLACED, close_name
from tests.rooms.client import SignalingClient, admit_guest, second_guest, signaling
from tests.support import Scene


async def _settled(client: SignalingClient) -> None:
    """Everything the server sent this client before now has arrived."""
    await client.send(Ping(id="settle"))
    await client.expect(Pong)


async def test_a_second_tab_takes_over_and_the_first_can_take_it_back(scene: Scene) -> None:
    server = scene.server
    async with (
        signaling(server, scene.session_id, scene.mentor_http) as tab1,
        signaling(server, scene.session_id, scene.guest_http) as guest,
    ):
        await tab1.send(Join())
        first = await tab1.expect(Welcome)
        _, welcomed = await admit_guest(tab1, guest)
        # The mentor opens the call in a second tab: no resume token there.
        async with signaling(server, scene.session_id, scene.mentor_http) as tab2:
            await tab2.send(Join())
            second = await tab2.expect(Welcome)
            assert (second.peer, second.resumed) == (first.peer, True)
            assert [p.role for p in second.peers] == ["trainee"]
            assert await tab1.closed() == CLOSE_REPLACED
            # The trainee sees one mentor, and is told to renegotiate with the new tab.
            assert await guest.expect(PeerLeft) == PeerLeft(peer=first.peer, reason="replaced")
            assert (await guest.expect(PeerJoined)).peer.id == first.peer

            # The first tab takes it back with the token it still holds.
            async with signaling(server, scene.session_id, scene.mentor_http) as back:
                await back.send(Join(resume=first.resume))
                again = await back.expect(Welcome)
                assert (again.peer, again.resumed) == (first.peer, True)
                assert await tab2.closed() == CLOSE_REPLACED
                assert (await guest.expect(PeerLeft)).reason == "replaced"
                await guest.expect(PeerJoined)
                await _settled(guest)
                # Never two of one person: the trainee's picture is the mentor, once.
                picture = [p.id for p in welcomed.peers]
                for message in guest.received:
                    if isinstance(message, PeerJoined):
                        picture.append(message.peer.id)
                    elif isinstance(message, PeerLeft):
                        picture.remove(message.peer)
                assert picture == [first.peer]


async def test_a_waiting_guest_in_two_tabs_is_one_lobby_entry(scene: Scene) -> None:
    server = scene.server
    async with signaling(server, scene.session_id, scene.mentor_http) as mentor:
        await mentor.send(Join())
        await mentor.expect(Welcome)
        async with signaling(server, scene.session_id, scene.guest_http) as tab1:
            await tab1.send(Join())
            await tab1.expect(Waiting)
            lobby = await mentor.expect(Lobby)
            while not lobby.waiting:
                lobby = await mentor.expect(Lobby)
            async with signaling(server, scene.session_id, scene.guest_http) as tab2:
                await tab2.send(Join())
                await tab2.expect(Waiting)
                assert await tab1.closed() == CLOSE_REPLACED
                await _settled(mentor)
                lobbies = [m for m in mentor.received if isinstance(m, Lobby)]
                assert [len(m.waiting) for m in lobbies] == [0, 1]
                await mentor.send(Deny(peer=lobby.waiting[0].id))
                # The mentor's denial reaches the tab that is there, and says it was a mentor.
                assert await tab2.closed() == CLOSE_NOT_ALLOWED
                assert close_name(CLOSE_NOT_ALLOWED, tab2.ws.close_reason or "") == "denied"


async def test_a_foreign_origin_is_not_a_mentors_denial(scene: Scene) -> None:
    """PRECEPTOR_PUBLIC_URL not matching the address served: the page must not say "the mentor
    did not let you in" (issue 9, dead end 3), even to the mentor."""
    async with signaling(
        scene.server, scene.session_id, scene.mentor_http, origin="http://192.0.2.7:8000"
    ) as mentor:
        assert await mentor.closed() == CLOSE_NOT_ALLOWED
        assert close_name(CLOSE_NOT_ALLOWED, mentor.ws.close_reason or "") == "origin"


async def test_ending_the_session_closes_the_lobby_and_the_room_4410(scene: Scene) -> None:
    server = scene.server
    waiting_http = await second_guest(scene)
    async with (
        signaling(server, scene.session_id, scene.mentor_http) as mentor,
        signaling(server, scene.session_id, scene.guest_http) as admitted,
        signaling(server, scene.session_id, waiting_http) as waiting,
    ):
        await mentor.send(Join())
        await mentor.expect(Welcome)
        await admit_guest(mentor, admitted)
        await waiting.send(Join())
        await waiting.expect(Waiting)
        ended = await scene.mentor_http.post(f"/api/sessions/{scene.session_id}/end")
        assert ended.status_code == 200
        assert await waiting.closed() == CLOSE_ENDED
        assert await admitted.closed() == CLOSE_ENDED
        assert await mentor.closed() == CLOSE_ENDED
    await waiting_http.aclose()
