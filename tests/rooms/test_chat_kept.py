"""Chat is kept with the session record (issue 9, dead end 7; issue 10): stored before it is
relayed, sent back as `chat-history` after every welcome, shown in the record's timeline."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from server.infra.storage import ChatMessage
from server.live.rooms.chat_tail import ChatTail
from signaling import (
    MAX_CHAT_HISTORY,
    MAX_CHAT_HISTORY_BYTES,
    Chat,
    ChatHistory,
    ChatPosted,
    ErrorMessage,
    Join,
    Ping,
    Pong,
    Welcome,
    serialize,
)
from signaling.messages import MAX_CHAT
from tests.rooms.client import admit_guest, signaling
from tests.support import Scene, wait_for


async def test_chat_is_stored_and_comes_back_after_a_reload(scene: Scene) -> None:
    server = scene.server
    async with signaling(server, scene.session_id, scene.mentor_http) as mentor:
        await mentor.send(Join())
        await mentor.expect(Welcome)
        assert (await mentor.expect(ChatHistory)).messages == ()
        async with signaling(server, scene.session_id, scene.guest_http) as guest:
            await admit_guest(mentor, guest)
            await guest.expect(ChatHistory)
            await guest.send(Chat(text="Can you hear me?"))
            posted = await mentor.expect(ChatPosted)
            assert (posted.name, posted.text) == ("Sam Student", "Can you hear me?")
            await mentor.send(Chat(text="Yes, clearly."))
            await guest.expect(ChatPosted)
        # The guest reloads the page (a fresh tab state: no token) and gets the chat back.
        async with signaling(server, scene.session_id, scene.guest_http) as reloaded:
            await reloaded.send(Join())
            assert (await reloaded.expect(Welcome)).resumed
            history = await reloaded.expect(ChatHistory)
            said = [(m.name, m.text) for m in history.messages]
            assert said == [("Sam Student", "Can you hear me?"), ("Test Mentor", "Yes, clearly.")]
            assert history.messages[0].id == posted.id

    # Supervisors and the mentor read it in the record's timeline, where it was said (its
    # entry follows the stored message into the log).
    chats: list[dict[str, Any]] = []

    async def on_the_timeline() -> bool:
        timeline = await scene.mentor_http.get(f"/api/sessions/{scene.session_id}/timeline")
        assert timeline.status_code == 200
        chats[:] = [e for e in timeline.json()["events"] if e["kind"] == "chat"]
        return len(chats) == 2

    await wait_for(on_the_timeline)
    assert [(c["who"], c["text"]) for c in chats] == [
        ("Sam Student", "Can you hear me?"),
        ("Test Mentor", "Yes, clearly."),
    ]
    assert all(c["at_ms"] >= 0 and c["at"] > 0 for c in chats)
    record = await scene.mentor_http.get(f"/api/sessions/{scene.session_id}/record")
    assert [e["text"] for e in record.json()["timeline"] if e["kind"] == "chat"] == [
        "Can you hear me?",
        "Yes, clearly.",
    ]
    views = await server.services.store.audit.about(scene.session_id, actions=("record.viewed",))
    assert {v.detail.get("part") for v in views} == {"timeline", None}


async def test_a_chat_that_cannot_be_stored_is_not_relayed(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = scene.server

    async def broken(message: object) -> None:
        raise OSError("disk full")

    async with signaling(server, scene.session_id, scene.mentor_http) as mentor:
        await mentor.send(Join())
        await mentor.expect(Welcome)
        async with signaling(server, scene.session_id, scene.guest_http) as guest:
            await admit_guest(mentor, guest)
            monkeypatch.setattr(server.services.store.chat, "add", broken)
            await guest.send(Chat(text="lost?"))
            error = await guest.expect(ErrorMessage)
            assert error.code == "chat-not-saved"
            await mentor.send(Ping(id="after"))
            await mentor.expect(Pong)
            assert not [m for m in [*mentor.received, *guest.received] if isinstance(m, ChatPosted)]


async def test_a_line_on_its_way_to_the_store_reaches_who_joins_meanwhile(
    scene: Scene, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The room keeps its chat in memory (issue 8); a line said before a member joins but stored
    after is relayed only to those who were there, so the newcomer has it in its history."""
    server = scene.server
    chat = server.services.store.chat
    add = chat.add
    release = asyncio.Event()

    async def slow(message: ChatMessage) -> None:
        await release.wait()
        await add(message)

    async with signaling(server, scene.session_id, scene.mentor_http) as mentor:
        await mentor.send(Join())
        await mentor.expect(ChatHistory)
        async with signaling(server, scene.session_id, scene.guest_http) as guest:
            await admit_guest(mentor, guest)
            await guest.expect(ChatHistory)
            monkeypatch.setattr(chat, "add", slow)
            await guest.send(Chat(text="Still storing"))
            # The mentor reloads the page while the line is being stored.
            async with signaling(server, scene.session_id, scene.mentor_http) as reloaded:
                await reloaded.send(Join())
                await reloaded.expect(Welcome)
                await guest.send(Ping(id="the line was taken"))
                await guest.expect(Pong)
                release.set()
                history = await reloaded.expect(ChatHistory)
                assert [m.text for m in history.messages] == ["Still storing"]


async def test_the_history_is_the_newest_messages_within_bounds(scene: Scene) -> None:
    store = scene.server.services.store
    for n in range(MAX_CHAT_HISTORY + 5):
        await store.chat.add(_said(scene.session_id, n, "short"))
    async with signaling(scene.server, scene.session_id, scene.mentor_http) as mentor:
        await mentor.send(Join())
        history = await mentor.expect(ChatHistory)
    assert len(history.messages) == MAX_CHAT_HISTORY
    assert (history.messages[0].id, history.messages[-1].id) == ("c5", f"c{MAX_CHAT_HISTORY + 4}")
    # Long messages: fewer, so that the frame fits a socket's outbox; still the newest.
    long = [_said("s", n, "x" * MAX_CHAT) for n in range(MAX_CHAT_HISTORY)]
    tail = ChatTail()
    tail.load(long, long)
    long_history = tail.history(("everyone",))
    kept = long_history.messages
    assert 0 < len(kept) < MAX_CHAT_HISTORY
    assert kept[-1].id == f"c{MAX_CHAT_HISTORY - 1}"
    assert len(serialize(long_history)) <= MAX_CHAT_HISTORY_BYTES + 100


def _said(session_id: str, n: int, text: str) -> ChatMessage:
    return ChatMessage(f"c{n}", session_id, "p1", "u1", "Sam", text, 1.7e9 + n, n)
