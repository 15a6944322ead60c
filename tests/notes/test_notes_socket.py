"""Shared notes through the real server: sync, persistence before relay, access, bad frames."""

from __future__ import annotations

from tests.notes.pyclient import yclient
from tests.support import Scene, running_server, wait_for


async def test_two_members_converge_and_the_server_keeps_the_text(scene: Scene) -> None:
    server = scene.server
    async with (
        yclient(server, scene.session_id, scene.mentor_http) as mentor,
        yclient(server, scene.session_id, scene.guest_http) as guest,
    ):
        await mentor.type("Took a focused history. ")
        await guest.wait_text("Took a focused history. ")
        await guest.type("Missed red flags.")
        await mentor.wait_text("Took a focused history. Missed red flags.")
        notes = (await scene.mentor_http.get(f"/api/sessions/{scene.session_id}/notes")).json()
        assert notes["text"] == "Took a focused history. Missed red flags."
        assert notes["can_edit"] is True
    history = (
        await scene.mentor_http.get(f"/api/sessions/{scene.session_id}/notes/history")
    ).json()
    assert [(r["author_name"], r["text"]) for r in history["authored"]] == [
        ("Test Mentor", "Took a focused history. "),
        ("Sam Student", "Missed red flags."),
    ]
    assert [v["text"] for v in history["versions"]] == [
        "Took a focused history. ",
        "Took a focused history. Missed red flags.",
    ]


async def test_a_late_joiner_gets_everything_and_a_restart_loses_nothing(scene: Scene) -> None:
    server = scene.server
    async with yclient(server, scene.session_id, scene.mentor_http) as mentor:
        for word in ("one ", "two ", "three"):
            await mentor.type(word)
        async with yclient(server, scene.session_id, scene.guest_http) as guest:
            await guest.wait_text("one two three")
    # A new process over the same database: the text comes back from the log.
    async with (
        running_server(server.config) as again,
        yclient(again, scene.session_id, scene.guest_http) as guest,
    ):
        await guest.wait_text("one two three")


async def test_garbage_frames_close_1008_and_the_document_survives(scene: Scene) -> None:
    server = scene.server
    async with yclient(server, scene.session_id, scene.mentor_http) as mentor:
        await mentor.type("kept")
        for garbage in (b"\x00\x02\x05\x01\x02", b"\x00", b"\x07\x00", b"\x00\x02\x03\xff\xff\xff"):
            async with yclient(server, scene.session_id, scene.guest_http, start=False) as bad:
                await bad.ws.send(garbage)
                assert await bad.closed() == 1008
        async with yclient(server, scene.session_id, scene.guest_http, start=False) as text_frame:
            await text_frame.ws.send("hello")
            assert await text_frame.closed() == 1008
        async with yclient(server, scene.session_id, scene.guest_http) as fine:
            await fine.wait_text("kept")
            await fine.type("!")
            await mentor.wait_text("kept!")

    async def audited() -> bool:
        actions = [e.action for e in await server.services.store.audit.recent(30)]
        return actions.count("room.notes.bad-frame") >= 5

    await wait_for(audited)


async def test_after_the_session_only_the_mentor_edits_and_it_is_audited(scene: Scene) -> None:
    server = scene.server
    async with yclient(server, scene.session_id, scene.mentor_http) as mentor:
        await mentor.type("live notes")
    await scene.mentor_http.post(f"/api/sessions/{scene.session_id}/end")
    notes = (await scene.mentor_http.get(f"/api/sessions/{scene.session_id}/notes")).json()
    assert notes == {**notes, "text": "live notes", "can_edit": True}
    async with yclient(server, scene.session_id, scene.mentor_http) as mentor:
        await mentor.wait_text("live notes")
        await mentor.type(" (amended)")
        async with yclient(server, scene.session_id, scene.mentor_http) as reader:
            await reader.wait_text("live notes (amended)")

    async def audited() -> bool:
        return any(
            e.action == "room.notes.edited-after-end"
            for e in await server.services.store.audit.recent(20)
        )

    await wait_for(audited)


async def test_the_log_is_compacted_when_the_last_member_leaves(scene: Scene) -> None:
    server = scene.server
    store = server.services.notes_store
    async with yclient(server, scene.session_id, scene.mentor_http) as mentor:
        await mentor.type("first ")
        await mentor.type("second")
        async with yclient(server, scene.session_id, scene.guest_http) as guest:
            await guest.wait_text("first second")

    async def compacted() -> bool:
        snapshot, after = await store.load(scene.session_id)
        return snapshot is not None and after == []

    await wait_for(compacted)
    # Loading from the snapshot plus what comes after it gives the same document...
    async with yclient(server, scene.session_id, scene.guest_http) as guest:
        await guest.wait_text("first second")
        await guest.type("!")
    async with yclient(server, scene.session_id, scene.mentor_http) as mentor:
        await mentor.wait_text("first second!")
    # ...and the history keeps every update with its author.
    history = await store.history(scene.session_id)
    assert [u.author_name for u in history] == ["Test Mentor", "Test Mentor", "Sam Student"]
