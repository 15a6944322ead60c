"""What a hidden observer says never reaches the trainee (issue 11), on a real server and on both
databases: not live, not in the `chat-history` of a later join (even once the observer is shown),
not in the record the trainee reads (which does not name the observer either); the mentor gets it
everywhere, marked as for their side."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.exc import IntegrityError

from server.config import Config
from server.infra.roles import Role
from server.infra.storage import Store
from signaling import Chat, ChatHistory, ChatPosted, Join, Welcome
from tests.rooms.client import signaling
from tests.rooms.test_chat_store import _session, chat_line
from tests.support import RunningServer, wait_for

pytestmark = pytest.mark.timeout(90)

SECRET = "Ask about radiation to the left arm"


@pytest.fixture
def config(tmp_path: Path, database_url: str) -> Config:
    """The server on each database ``database_url`` names (the chat store is involved)."""
    return Config(data_dir=tmp_path, database_url=database_url, secret_key="test-secret-key-0123")


async def _chat_in_record(http: httpx.AsyncClient, session_id: str) -> list[dict[str, Any]]:
    record = await http.get(f"/api/sessions/{session_id}/record")
    assert record.status_code == 200, record.text
    return [e for e in record.json()["timeline"] if e["kind"] == "chat"]


async def test_a_hidden_observers_chat_reaches_the_mentor_never_the_trainee(
    server: RunningServer,
) -> None:
    mentor, trainee = await server.user(Role.MENTOR), await server.user(Role.TRAINEE)
    supervisor = await server.user(Role.SUPERVISOR)
    await server.services.accounts.assign(supervisor.id, trainee.id, actor_id=None)
    https = [await server.signed_in(u) for u in (mentor, trainee, supervisor)]
    mentor_http, trainee_http, supervisor_http = https
    try:
        created = await mentor_http.post(
            "/api/sessions",
            json={
                "title": "Chest pain",
                "trainee_ids": [trainee.id],
                "media_mode": "routed",
                "observers_hidden": True,
            },
        )
        assert created.status_code == 201, created.text
        session_id = created.json()["id"]

        async with (
            signaling(server, session_id, mentor_http) as desk,
            signaling(server, session_id, trainee_http) as phone,
            signaling(server, session_id, supervisor_http) as watcher,
        ):
            for client in (desk, phone, watcher):
                await client.send(Join())
                await client.expect(Welcome)
                await client.expect(ChatHistory)

            await watcher.send(Chat(text=SECRET))
            heard = await desk.expect(ChatPosted)
            assert heard.text == SECRET
            # The mentor answers the room: stored (and relayed) after the observer's line, so
            # the trainee, who gets this one, would have had the other first.
            await desk.send(Chat(text="Where does it hurt?"))
            said = await phone.expect(ChatPosted)
            while said.text != "Where does it hurt?":
                said = await phone.expect(ChatPosted)
            assert [m.text for m in phone.received if isinstance(m, ChatPosted)] == [said.text]
            assert (said.text, said.audience) == ("Where does it hurt?", "everyone")
            assert heard.audience == "mentors"
            # The observer's own page gets it back, marked as for the mentor's side.
            echoed = await watcher.expect(ChatPosted)
            assert (echoed.text, echoed.audience) == (SECRET, "mentors")

            # Shown from now on: what was said while hidden stays hidden.
            shown = await mentor_http.put(
                f"/api/sessions/{session_id}/observers", json={"hidden": False}
            )
            assert shown.status_code == 200, shown.text

        # Each comes back (a reload): the trainee's history lacks the line, the mentor's has it.
        async with signaling(server, session_id, trainee_http) as reloaded:
            await reloaded.send(Join())
            await reloaded.expect(Welcome)
            history = await reloaded.expect(ChatHistory)
            assert [m.text for m in history.messages] == ["Where does it hurt?"]
        async with signaling(server, session_id, mentor_http) as reloaded:
            await reloaded.send(Join())
            await reloaded.expect(Welcome)
            history = await reloaded.expect(ChatHistory)
            said_by = [(m.text, m.audience) for m in history.messages]
            assert said_by == [(SECRET, "mentors"), ("Where does it hurt?", "everyone")]

        # The record: the mentor's (and the supervisor's) shows both lines once both are in
        # its timeline; the trainee's, read then, only the mentor's.
        async def both_in_the_record() -> bool:
            return len(await _chat_in_record(mentor_http, session_id)) == 2

        await wait_for(both_in_the_record)
        for http in (mentor_http, supervisor_http):
            lines = await _chat_in_record(http, session_id)
            assert [(c["text"], c["detail"].get("audience")) for c in lines] == [
                (SECRET, "mentors"),
                ("Where does it hurt?", None),
            ]
        lines = await _chat_in_record(trainee_http, session_id)
        assert [c["text"] for c in lines] == ["Where does it hurt?"]
        timeline = await trainee_http.get(f"/api/sessions/{session_id}/timeline")
        assert timeline.status_code == 200
        assert SECRET not in timeline.text
        record = await trainee_http.get(f"/api/sessions/{session_id}/record")
        assert SECRET not in record.text
        # Nor is the trainee told afterwards who watched: the observer joined hidden, so the
        # record's participants and timeline leave them out; the mentor's side keeps them.
        assert [p["id"] for p in record.json()["participants"]] == [mentor.id, trainee.id]
        assert supervisor.name not in record.text
        assert supervisor.name not in timeline.text
        for http in (mentor_http, supervisor_http):
            full = (await http.get(f"/api/sessions/{session_id}/record")).json()
            assert supervisor.id in [p["id"] for p in full["participants"]]
            joins = [e["who"] for e in full["timeline"] if e["action"] == "room.join"]
            assert supervisor.name in joins
    finally:
        for http in https:
            await http.aclose()


async def test_the_store_gives_each_reader_the_lines_of_their_audiences(store: Store) -> None:
    session_id = await _session(store)
    said = chat_line(session_id, 1)
    hidden = dataclasses.replace(chat_line(session_id, 2), audience="mentors")
    for line in (said, hidden):
        await store.chat.add(line)
    # A read names what its reader may see; by default, only what everyone may.
    assert await store.chat.recent(session_id, limit=10) == [said]
    assert await store.chat.recent(session_id, limit=10, audiences=("everyone", "mentors")) == [
        said,
        hidden,
    ]
    assert await store.chat.by_ids(session_id, {"c1", "c2"}) == {"c1": said}
    mentors_side = await store.chat.by_ids(
        session_id, {"c1", "c2"}, audiences=("everyone", "mentors")
    )
    assert mentors_side == {"c1": said, "c2": hidden}
    # No other audience is ever stored (a typo would otherwise hide a line from everyone).
    typo = dataclasses.replace(chat_line(session_id, 3), audience="all")
    with pytest.raises(IntegrityError):
        await store.chat.add(typo)
