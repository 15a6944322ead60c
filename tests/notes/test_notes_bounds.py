"""Every member's share of the notes is bounded: bytes per second, the document's size, and
awareness (cursor) entries; refusals close with a clear code and are audited once."""

from __future__ import annotations

import json
from dataclasses import replace

from session_notes import AwarenessEntry, awareness_frame, encode_awareness
from tests.notes.pyclient import YClient, yclient
from tests.support import Scene, wait_for

CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009


async def audit_count(scene: Scene, action: str) -> int:
    return [e.action for e in await scene.server.services.store.audit.recent(300)].count(action)


async def bad_frame_audited(scene: Scene, count: int) -> None:
    """A later refusal that is always audited: once it is on record, so is anything before it."""
    async with yclient(scene.server, scene.session_id, scene.mentor_http, start=False) as bad:
        await bad.ws.send(b"\x07\x00")
        assert await bad.closed() == CLOSE_POLICY

    async def audited() -> bool:
        return await audit_count(scene, "room.notes.bad-frame") >= count

    await wait_for(audited)


async def flood(client: YClient, chunk: int, times: int) -> None:
    for n in range(times):
        if client.ws.close_code is not None:
            return
        try:
            await client.type(chr(ord("a") + n % 26) * chunk)
        except Exception:
            return


async def test_a_member_sending_megabytes_a_second_is_closed_and_audited_once(
    scene: Scene,
) -> None:
    server = scene.server
    hub = server.services.notes
    # Only the budget is under test here: room in the document for both attempts.
    hub.limits = replace(hub.limits, max_document_bytes=4 * 1024 * 1024)
    for attempt in (1, 2):
        async with yclient(server, scene.session_id, scene.guest_http) as greedy:
            # 600 KB at once; the sixth 100 KB change is past the budget (and nothing follows
            # it, so the close frame is not lost to a reset).
            await flood(greedy, 100_000, 6)
            assert await greedy.closed() == CLOSE_POLICY
            assert "bytes" in (greedy.ws.close_reason or "")
        if attempt == 1:

            async def audited() -> bool:
                return await audit_count(scene, "room.notes.over-budget") == 1

            await wait_for(audited)
    await bad_frame_audited(scene, 1)
    assert await audit_count(scene, "room.notes.over-budget") == 1
    # What reached the log is bounded by the burst: five of the six changes, twice.
    stored = await server.services.notes_store.history(scene.session_id)
    assert len(stored) == 10


async def test_the_document_has_a_size_cap(scene: Scene) -> None:
    server = scene.server
    chunk = "n" * 150_000
    async with (
        yclient(server, scene.session_id, scene.mentor_http) as mentor,
        yclient(server, scene.session_id, scene.guest_http) as guest,
    ):
        for _ in range(3):
            await mentor.type(chunk)
        await guest.wait_text(chunk * 3)
        for _ in range(2):
            await guest.type(chunk)
        await mentor.wait_text(chunk * 5)
        await guest.type(chunk)  # 900 KB: over the cap
        assert await guest.closed() == CLOSE_TOO_BIG
        assert "full" in (guest.ws.close_reason or "")
        # The same member reconnects and tries again (as y-websocket does): refused, once on record.
        async with yclient(server, scene.session_id, scene.guest_http) as again:
            await again.wait_text(chunk * 5)
            await again.type("x" * 200_000)
            assert await again.closed() == CLOSE_TOO_BIG
    await bad_frame_audited(scene, 1)
    assert await audit_count(scene, "room.notes.too-big") == 1
    text = (await scene.mentor_http.get(f"/api/sessions/{scene.session_id}/notes")).json()["text"]
    assert text == chunk * 5


def awareness(client_id: int, state: object, clock: int = 1) -> bytes:
    entry = AwarenessEntry(client_id, clock, json.dumps(state, ensure_ascii=False))
    return awareness_frame(encode_awareness([entry]))


async def test_an_awareness_state_is_capped_in_bytes(scene: Scene) -> None:
    async with yclient(scene.server, scene.session_id, scene.guest_http) as guest:
        # 1,100 characters, but 4,400 bytes of UTF-8.
        await guest.ws.send(awareness(7, {"user": {"name": "\U0001f600" * 1100}}))
        assert await guest.closed() == CLOSE_TOO_BIG


async def test_one_connection_cannot_claim_many_awareness_clients(scene: Scene) -> None:
    async with (
        yclient(scene.server, scene.session_id, scene.mentor_http) as mentor,
        yclient(scene.server, scene.session_id, scene.guest_http) as guest,
    ):
        for client_id in range(1, 4):
            await guest.ws.send(awareness(client_id, {"user": {"name": "Sam"}}))
        await guest.ws.send(awareness(1, {"user": {"name": "Sam"}}, clock=2))
        for client_id in range(4, 20):
            await guest.ws.send(awareness(client_id, {"user": {"name": "Sam"}}))
        assert await guest.closed() == CLOSE_POLICY
        assert "awareness" in (guest.ws.close_reason or "")
        # The mentor's connection is untouched.
        await mentor.type("still here")
        async with yclient(scene.server, scene.session_id, scene.guest_http) as reader:
            await reader.wait_text("still here")


async def test_a_room_holds_a_bounded_number_of_awareness_clients(scene: Scene) -> None:
    server = scene.server
    async with yclient(server, scene.session_id, scene.mentor_http) as anchor:
        await anchor.type("x")
        opened = []
        refused: int | None = None
        next_id = 1
        try:
            for _ in range(20):
                context = yclient(server, scene.session_id, scene.guest_http)
                member = await context.__aenter__()
                opened.append(context)
                for _ in range(4):
                    await member.ws.send(awareness(next_id, {"user": {"name": "Sam"}}))
                    next_id += 1
                # A query is answered once what came before it was handled.
                await member.ws.send(b"\x03")
                try:
                    code = await member.closed(timeout=0.5)
                except TimeoutError:
                    continue
                refused = code
                break
        finally:
            for context in reversed(opened):
                await context.__aexit__(None, None, None)
    assert refused == CLOSE_POLICY
    assert next_id - 1 <= 16 * 4 + 4
