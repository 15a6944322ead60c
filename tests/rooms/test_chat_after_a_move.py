"""A chat line said on a room's node and stored there only after the room moved (the node
drained, or lost its claim): the new owner loaded its chat tail without it, and used to send
every later history without it until the room reopened, and nobody saw the line during the
call. The old node now tells the new owner, which adds the line to its tail
(server/live/rooms/chat_tail.py, ``late``) and relays it to the members it has."""

from __future__ import annotations

import asyncio

import pytest

from server.infra.storage import ChatMessage
from signaling import Chat, ChatHistory, ChatPosted, Join, Welcome
from signaling.close_codes import CLOSE_RESTARTING
from tests.rooms.client import signaling
from tests.support import RunningServer, make_scene

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


async def test_a_line_stored_after_its_room_moved_is_in_the_new_owners_histories(
    nodes: tuple[RunningServer, RunningServer], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = nodes
    scene = await make_scene(a)
    # Node a's database writes of chat are slow: the line waits until the gate opens.
    chat = a.services.store.chat
    storing, gate = asyncio.Event(), asyncio.Event()
    add = chat.add

    async def slow_add(message: ChatMessage) -> None:
        storing.set()
        await gate.wait()
        await add(message)

    monkeypatch.setattr(chat, "add", slow_add)
    async with signaling(a, scene.session_id, scene.mentor_http) as mentor:
        await mentor.send(Join())
        await mentor.expect(Welcome)
        await mentor.expect(ChatHistory)
        await mentor.send(Chat(text="said just before the restart"))
        await asyncio.wait_for(storing.wait(), 10)
        # Node a goes away (SIGTERM's drain): it gives the room up and sends its members on.
        await a.services.rooms.drain(CLOSE_RESTARTING, "restarting")
        assert await mentor.closed(timeout=10) == CLOSE_RESTARTING

    async def history_on_b() -> list[str]:
        async with signaling(b, scene.session_id, scene.mentor_http) as back:
            await back.send(Join())
            await back.expect(Welcome, timeout=10)
            return [m.text for m in (await back.expect(ChatHistory, timeout=10)).messages]

    async with signaling(b, scene.session_id, scene.mentor_http) as back:
        await back.send(Join())
        await back.expect(Welcome, timeout=10)
        # The room opened on b, its tail read while the line is still on its way on a.
        assert (await back.expect(ChatHistory, timeout=10)).messages == ()
        assert b.services.rooms.room_count == 1
        gate.set()
        # Told as soon as a has stored it...
        posted = await back.expect(ChatPosted, timeout=10)
        assert posted.text == "said just before the restart"
    # ...and in every history from then on, from the same room.
    assert await history_on_b() == ["said just before the restart"]
    assert b.services.rooms.room_count == 1
