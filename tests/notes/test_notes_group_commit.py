"""A document's writers share one group commit: the room's lock is taken to check and queue an
update and to apply it, never across the commit (bench/notes.py, issue 13: the second writer of
a document used to wait for the first writer's fsync, then for its own). Nothing is relayed
before its commit, the caps count queued updates, and the log replays to the relayed document."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

import session_notes.store as notes_store
from session_notes import NotesDocument
from session_notes.sqlite_append import append_rows
from tests.notes.pyclient import YClient, yclient
from tests.support import Scene, wait_for

CLOSE_TOO_BIG = 1009


@dataclass
class HeldCommits:
    """The SQLite group commit's one statement per batch, held at a gate while ``closed``: the
    batches it was given (each a list of the rows' session ids and updates)."""

    batches: list[list[tuple[str, bytes]]] = field(default_factory=list)
    gate: asyncio.Event = field(default_factory=asyncio.Event)

    def batches_of(self, session_id: str) -> list[list[bytes]]:
        return [[u for s, u in batch if s == session_id] for batch in self.batches]

    async def busy_with(self, writer: YClient, session_id: str) -> None:
        """Hold the group commit on `writer`'s edit of another document until `gate` opens."""
        self.gate.clear()
        await writer.type("elsewhere. ")

        async def writing_it() -> bool:
            return [[s for s, _ in batch] for batch in self.batches] == [[session_id]]

        await wait_for(writing_it)


@pytest.fixture
async def held(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[HeldCommits]:
    held = HeldCommits()
    held.gate.set()

    async def gated(driver: Any, rows: list[tuple[Any, ...]]) -> list[int]:
        held.batches.append([(row[0], row[1]) for row in rows])
        await held.gate.wait()
        return await append_rows(driver, rows)

    monkeypatch.setattr(notes_store, "append_rows", gated)
    yield held
    held.gate.set()


async def _second_session(scene: Scene) -> str:
    created = await scene.mentor_http.post("/api/sessions", json={"title": "Another"})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


@contextlib.asynccontextmanager
async def both_typed_while_held(
    scene: Scene, held: HeldCommits, other: str
) -> AsyncIterator[tuple[YClient, YClient]]:
    """The mentor and the guest of the scene's document, each having typed a line while the
    group commit is held on another document's update (its disk is slow): both lines queued,
    neither committed until ``held.gate`` opens."""
    server = scene.server
    async with (
        yclient(server, scene.session_id, scene.mentor_http) as mentor,
        yclient(server, scene.session_id, scene.guest_http) as guest,
        yclient(server, other, scene.mentor_http) as elsewhere,
    ):
        await held.busy_with(elsewhere, other)
        # Both writers of the document type meanwhile: neither may wait for the other.
        await mentor.type("Mentor: good history. ")
        await guest.type("Guest: missed red flags. ")

        async def both_queued() -> bool:
            return server.services.notes._commits._queue.qsize() == 2

        await wait_for(both_queued)  # the guest's update waited behind the mentor's commit
        yield mentor, guest


async def test_both_writers_of_a_document_share_one_commit_and_the_log_replays_it(
    scene: Scene, held: HeldCommits
) -> None:
    server = scene.server
    other = await _second_session(scene)
    async with both_typed_while_held(scene, held, other) as (mentor, guest):
        await asyncio.sleep(0.1)  # (a relay before the commit would show here)
        assert str(guest.text) == "Guest: missed red flags. "
        assert str(mentor.text) == "Mentor: good history. "
        held.gate.set()

        async def both_relayed() -> bool:
            return str(mentor.text) == str(guest.text) and len(str(mentor.text)) == 47

        await wait_for(both_relayed)
        relayed = str(mentor.text)
        assert [len(b) for b in held.batches_of(scene.session_id) if b] == [2]
    assert set(relayed.split(". ")) == {"Mentor: good history", "Guest: missed red flags", ""}

    async def unloaded() -> bool:
        return server.services.notes.members(scene.session_id) == 0

    await wait_for(unloaded)
    # A restart loads the snapshot and what follows it; the log alone replays the same text.
    assert await server.services.notes.text(scene.session_id) == relayed
    log = await server.services.notes_store.history(scene.session_id)
    assert NotesDocument.load(None, (u.update for u in log)).text == relayed


async def test_queued_updates_count_against_the_document_cap(
    scene: Scene, held: HeldCommits
) -> None:
    """Two members' updates queued together may not take the document past its cap: one of
    them is refused (1009), and only the other is ever relayed or stored."""
    server = scene.server
    hub = server.services.notes
    hub.limits = replace(hub.limits, max_document_bytes=30_000)
    other = await _second_session(scene)
    async with (
        yclient(server, scene.session_id, scene.mentor_http) as mentor,
        yclient(server, scene.session_id, scene.guest_http) as guest,
        yclient(server, other, scene.mentor_http) as elsewhere,
    ):
        await held.busy_with(elsewhere, other)
        await mentor.type("m" * 20_000)
        await guest.type("g" * 20_000)

        async def one_queued_one_refused() -> bool:
            refused = [c for c in (mentor, guest) if c.ws.close_code is not None]
            return len(refused) == 1 and hub._commits._queue.qsize() == 1

        await wait_for(one_queued_one_refused)
        held.gate.set()
        refused, kept = (mentor, guest) if mentor.ws.close_code else (guest, mentor)
        assert refused.ws.close_code == CLOSE_TOO_BIG
        kept_text = str(kept.text)
        assert kept_text in ("m" * 20_000, "g" * 20_000)  # its own, nothing relayed to it

        async def stored() -> bool:
            return await hub.text(scene.session_id) == kept_text

        await wait_for(stored)
    assert len(await server.services.notes_store.history(scene.session_id)) == 1


def _sample(metrics: str, line_start: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(line_start + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{line_start} is not in the metrics")


async def test_the_metrics_show_what_a_slow_commit_made_writers_wait(
    scene: Scene, held: HeldCommits
) -> None:
    """An operator reads a slow disk off /metrics: each batch's commit time, how long its oldest
    update waited to be relayed, and how many updates it carried."""
    server = scene.server
    other = await _second_session(scene)
    async with both_typed_while_held(scene, held, other) as (mentor, guest):
        await asyncio.sleep(0.3)
        held.gate.set()

        async def relayed() -> bool:
            return str(mentor.text) == str(guest.text) and len(str(mentor.text)) == 47

        await wait_for(relayed)
    async with server.client() as operator:
        response = await operator.get("/metrics")
    assert response.status_code == 200, response.text
    text = response.text
    batches = "preceptor_notes_commit_batch_updates"
    assert _sample(text, f"{batches}_count") == 2
    assert _sample(text, f'{batches}_bucket{{le="1.0"}}') == 1  # the other document's
    assert _sample(text, f'{batches}_bucket{{le="2.0"}}') == 2  # both writers' together
    commit = "preceptor_notes_commit_seconds"
    assert _sample(text, f'{commit}_bucket{{le="0.25"}}') <= 1  # the held one took longer
    assert _sample(text, f"{commit}_sum") >= 0.3
    # Both batches' oldest updates waited out the held commit before they could be relayed.
    wait = "preceptor_notes_commit_wait_seconds"
    assert _sample(text, f'{wait}_bucket{{le="0.25"}}') == 0
    assert _sample(text, f"{wait}_count") == 2
