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
    ids = [v["id"] for v in history["versions"]]
    assert len(ids) == 2
    texts = [
        (
            await scene.mentor_http.get(f"/api/sessions/{scene.session_id}/notes/versions/{i}")
        ).json()["text"]
        for i in ids
    ]
    assert texts == ["Took a focused history. Missed red flags.", "Took a focused history. "]


async def test_the_history_lists_versions_in_pages_and_serves_each_text_on_demand(
    scene: Scene,
) -> None:
    server, http = scene.server, scene.mentor_http
    base = f"/api/sessions/{scene.session_id}/notes"
    async with (
        yclient(server, scene.session_id, scene.mentor_http) as mentor,
        yclient(server, scene.session_id, scene.guest_http) as watcher,
    ):
        for n in range(60):
            await mentor.type(f"w{n} ")
        await watcher.wait_text("".join(f"w{n} " for n in range(60)))
    # Listing every version costs a few bytes each, not the whole text each time.
    first = await http.get(f"{base}/history", params={"limit": 25})
    assert first.status_code == 200, first.text
    assert first.headers["cache-control"] == "no-store"
    page = first.json()
    assert len(first.content) < 6_000
    assert all(set(v) == {"id", "at", "author_id", "author_name"} for v in page["versions"])
    assert [(r["author_name"], r["text"][:6]) for r in page["authored"]] == [
        ("Test Mentor", "w0 w1 ")
    ]
    seen = [v["id"] for v in page["versions"]]
    while page["next_before"] is not None:
        response = await http.get(
            f"{base}/history", params={"before": page["next_before"], "limit": 25}
        )
        page = response.json()
        seen += [v["id"] for v in page["versions"]]
    assert len(seen) == 60
    assert seen == sorted(seen, reverse=True)
    # The oldest version holds the first word only; the fifth, five words.
    fifth = await http.get(f"{base}/versions/{seen[-5]}")
    assert fifth.status_code == 200, fifth.text
    assert fifth.headers["cache-control"] == "no-store"
    assert fifth.json()["text"] == "w0 w1 w2 w3 w4 "
    assert fifth.json()["author_name"] == "Test Mentor"
    # Bounded and checked: no page too large, no id from elsewhere.
    for params in ({"limit": 0}, {"limit": 10_000}, {"limit": "x"}, {"before": -1}):
        assert (await http.get(f"{base}/history", params=params)).status_code == 422
    for bad in ("99999999", "x", str(2**70)):
        assert (await http.get(f"{base}/versions/{bad}")).status_code in (404, 422)

    async def audited() -> bool:
        parts = [
            e.detail.get("part")
            for e in await server.services.store.audit.recent(50)
            if e.action == "record.viewed"
        ]
        return "notes-history" in parts and "notes-version" in parts

    await wait_for(audited)


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
