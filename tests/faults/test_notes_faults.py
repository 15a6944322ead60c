"""Notes under faults (issue 13): two nodes compacting one document at once, a store that fails
under a member, and a notes socket cut by the network (through our own fault proxy)."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from pycrdt import Doc, Text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from websockets.asyncio.client import connect

from server.infra.storage import Store
from server.infra.storage.engine import for_writing
from server.live.notes import hub as notes_hub
from session_notes import SqlNotesStore
from session_notes.store import notes_snapshots
from signaling.close_codes import CLOSE_TRY_AGAIN
from tests.faults.proxy import FaultProxy
from tests.notes.conftest import admitted_scene
from tests.notes.pyclient import YClient, yclient
from tests.rooms.client import cookie_header
from tests.support import (
    RunningServer,
    migrated_store,
    postgres_database,
    wait_for,
)


@pytest.fixture
async def two_nodes_store() -> AsyncIterator[tuple[Store, Store]]:
    """One PostgreSQL database seen through two engines, as two nodes see it."""
    async with postgres_database() as url:
        a = await migrated_store(url)
        b = Store.open(url, idle_timeout_s=1800, absolute_timeout_s=43200)
        try:
            yield a, b
        finally:
            await a.close()
            await b.close()


async def _waiting_on_a_lock(engine: AsyncEngine) -> bool:
    async with engine.connect() as connection:
        waiting = await connection.scalar(
            sa.text(
                "select count(*) from pg_stat_activity "
                "where wait_event_type = 'Lock' and datname = current_database()"
            )
        )
    return bool(waiting)


@pytest.mark.postgres
async def test_two_nodes_snapshotting_one_document_at_once(
    two_nodes_store: tuple[Store, Store],
) -> None:
    """Defect 4: both nodes reach the compaction threshold; the first snapshot commits between
    the second node's look and its insert. The second must not fail (it failed with a duplicate
    key on notes_snapshots, which dropped a member's socket with 1006)."""
    a, b = two_nodes_store
    node_b = SqlNotesStore(b.engine, for_writing(b.engine))
    async with a.engine.begin() as first:
        await first.execute(
            notes_snapshots.insert().values(session_id="s1", snapshot=b"first", upto_id=5, at=1.0)
        )
        second = asyncio.create_task(node_b.save_snapshot("s1", b"second", 7, 2.0))
        await wait_for(lambda: _waiting_on_a_lock(a.engine), timeout=5)
    await asyncio.wait_for(second, 5)  # raised IntegrityError before the fix
    snapshot, _ = await node_b.load("s1")
    assert snapshot is not None
    assert (snapshot.data, snapshot.upto_id) == (b"second", 7)
    # The older of two racing snapshots never replaces the newer one.
    async with a.engine.begin() as first:
        await first.execute(
            notes_snapshots.update()
            .where(notes_snapshots.c.session_id == "s1")
            .values(snapshot=b"newest", upto_id=9)
        )
        stale = asyncio.create_task(node_b.save_snapshot("s1", b"stale", 8, 3.0))
        await wait_for(lambda: _waiting_on_a_lock(a.engine), timeout=5)
    await asyncio.wait_for(stale, 5)
    snapshot, _ = await node_b.load("s1")
    assert snapshot is not None
    assert snapshot.data == b"newest"


def _disk_error() -> OperationalError:
    return OperationalError("INSERT INTO notes_updates", {}, sqlite3.OperationalError("disk I/O"))


async def test_a_store_that_fails_closes_the_notes_socket_with_try_again(
    server: RunningServer, tmp_path: Path
) -> None:
    """A write the database refused closes the member's socket with 1013 (y-websocket comes back
    and re-sends what the server lacks); before, the error escaped and the socket died (1006)."""
    scene = await admitted_scene(server)
    notes = server.services.notes_store
    assert isinstance(notes, SqlNotesStore)
    # A database the process can no longer write (its directory is gone), through the real
    # store: SQLite's own error, mapped where the store meets SQLAlchemy.
    unwritable = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/gone/preceptor.db")
    async with yclient(server, scene.session_id, scene.mentor_http) as writer:
        await writer.type("saved. ")

        async def saved() -> bool:
            return await server.services.notes.text(scene.session_id) == "saved. "

        await wait_for(saved)
        writable, notes._writer = notes._writer, unwritable
        try:
            await writer.type("not saved")
            assert await writer.closed() == CLOSE_TRY_AGAIN
            assert (writer.ws.close_reason or "").startswith("try again")
        finally:
            notes._writer = writable
            await unwritable.dispose()
    # It comes back and its edit lands once the database does.
    async with yclient(server, scene.session_id, scene.mentor_http) as again:
        assert str(again.text) == "saved. "
        await again.type("saved again.")

        async def stored() -> bool:
            return await server.services.notes.text(scene.session_id) == "saved. saved again."

        await wait_for(stored)


async def test_a_failed_compaction_costs_the_member_nothing(
    server: RunningServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The update is already stored and relayed when compaction runs: a snapshot the database
    refuses is logged, and the member keeps typing."""
    monkeypatch.setattr(notes_hub, "COMPACT_AFTER", 3)
    scene = await admitted_scene(server)
    notes = server.services.notes_store

    async def failing(*args: object, **kwargs: object) -> None:
        raise _disk_error()

    monkeypatch.setattr(notes, "save_snapshot", failing)
    async with (
        yclient(server, scene.session_id, scene.mentor_http) as writer,
        yclient(server, scene.session_id, scene.guest_http) as reader,
    ):
        for word in ("one ", "two ", "three ", "four "):
            await writer.type(word)
        await reader.wait_text("one two three four ")
        assert writer.ws.close_code is None


@contextlib.asynccontextmanager
async def _phone(
    proxy: FaultProxy,
    server: RunningServer,
    session_id: str,
    http: httpx.AsyncClient,
    *,
    doc: Doc[Any] | None = None,
) -> AsyncIterator[YClient]:
    """A y-websocket client whose connection goes through ``proxy``; ``doc``: the document it
    kept from an earlier connection (y-websocket keeps it across reconnects)."""
    async with connect(
        f"ws://127.0.0.1:{proxy.port}/ws/notes/{session_id}",
        origin=server.url,  # type: ignore[arg-type]
        additional_headers={"Cookie": cookie_header(http)},
        compression=None,
    ) as ws:
        client = YClient(ws)
        if doc is not None:
            # Before the reader's first turn: it reads these attributes per frame.
            client.doc, client.text = doc, doc.get("notes", type=Text)
        await client.start()
        try:
            yield client
        finally:
            client._reader.cancel()


async def test_a_notes_socket_cut_by_the_network_loses_nothing(server: RunningServer) -> None:
    """A phone's network goes silent, then changes mid-typing (the proxy resets its connection);
    it types on offline and reconnects with the same document: every edit arrives once, and the
    server keeps no ghost of the dead socket."""
    scene = await admitted_scene(server)
    upstream = int(server.url.rsplit(":", 1)[1])
    async with (
        FaultProxy(upstream) as proxy,
        yclient(server, scene.session_id, scene.guest_http) as reader,
    ):
        async with _phone(proxy, server, scene.session_id, scene.mentor_http) as phone:
            await phone.type("before. ")
            await reader.wait_text("before. ")
            # A silent network holds the edit; it arrives when the path comes back.
            proxy.pause()
            await phone.type("held. ")
            proxy.resume()
            await reader.wait_text("before. held. ")
            proxy.cut()
            assert await phone.closed() is not None
            offline = phone.doc
            before = offline.get_state()
            phone.text += "offline. "
            assert offline.get_update(before)  # typed locally, never sent
        started = asyncio.get_running_loop().time()
        async with _phone(proxy, server, scene.session_id, scene.mentor_http, doc=offline) as back:
            await reader.wait_text("before. held. offline. ")
            converged = asyncio.get_running_loop().time() - started
            await back.type("after.")
            await reader.wait_text("before. held. offline. after.")

            async def no_ghost() -> bool:
                return server.services.notes.members(scene.session_id) == 2

            await wait_for(no_ghost)
    assert await server.services.notes.text(scene.session_id) == "before. held. offline. after."
    print(f"\nnotes converged {converged * 1000:.0f} ms after reconnecting")
