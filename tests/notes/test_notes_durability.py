"""Notes survive a killed server, and two nodes joined by Redis serve one document."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Iterable
from pathlib import Path

import pytest
from sqlalchemy import event

from tests.notes.conftest import admitted_scene
from tests.notes.pyclient import yclient
from tests.support import (
    RunningServer,
    free_port,
    serve_process,
    wait_for,
    wait_listening,
)


@pytest.mark.timeout(120)
async def test_kill_9_mid_typing_loses_nothing_that_was_relayed(
    server: RunningServer, tmp_path: Path
) -> None:
    """Updates are stored before they are relayed: whatever the watcher saw survives kill -9."""
    scene = await admitted_scene(server)
    port = free_port()
    with serve_process(server.config, port) as process:
        await wait_listening(port)
        process_server = RunningServer(f"http://127.0.0.1:{port}", server.config, server.app)
        async with (
            yclient(process_server, scene.session_id, scene.mentor_http) as typist,
            yclient(process_server, scene.session_id, scene.guest_http) as watcher,
        ):

            async def type_forever() -> None:
                for i in range(100_000):
                    await typist.type(f"{i % 10}")
                    await asyncio.sleep(0.005)

            typing = asyncio.create_task(type_forever())

            async def watcher_saw_plenty() -> bool:
                return len(str(watcher.text)) >= 200

            await wait_for(watcher_saw_plenty, timeout=20)
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)
            seen = str(watcher.text)
            typing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await typing
    assert len(seen) >= 200
    # The in-process server reads the same database: everything the watcher saw is there.
    async with yclient(server, scene.session_id, scene.mentor_http) as reader:
        await reader.start()
        text = str(reader.text)
    assert text.startswith(seen), (len(text), len(seen))


@pytest.mark.postgres
@pytest.mark.redis
async def test_two_nodes_serve_one_document(nodes: tuple[RunningServer, RunningServer]) -> None:
    a, b = nodes
    scene = await admitted_scene(a)
    async with (
        yclient(a, scene.session_id, scene.mentor_http) as on_a,
        yclient(b, scene.session_id, scene.guest_http) as on_b,
    ):
        await on_a.type("written on A. ")
        await on_b.wait_text("written on A. ")
        await on_b.type("Written on B.")
        await on_a.wait_text("written on A. Written on B.")


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_node_that_missed_the_bus_catches_up_from_the_store(
    nodes: tuple[RunningServer, RunningServer],
) -> None:
    a, b = nodes
    scene = await admitted_scene(a)
    async with yclient(b, scene.session_id, scene.guest_http) as on_b:
        # An update that reached the store but never the bus (as if Redis dropped it).
        from pycrdt import Doc, Text

        doc: Doc[object] = Doc()
        text = doc.get("notes", type=Text)
        text += "from the log"
        await a.services.notes_store.append(
            scene.session_id, doc.get_update(), author_id="x", author_name="X", at=0.0
        )
        assert await b.services.notes.catch_up(scene.session_id) == 1
        await on_b.wait_text("from the log")


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_nodes_catch_up_reads_all_its_open_documents_in_one_statement(
    nodes: tuple[RunningServer, RunningServer],
) -> None:
    """Every few seconds a node looks in the store for updates the bus did not bring: one
    read for all the documents it holds open, not one each (200 open rooms made that most of
    a node's time: issue 13)."""
    a, b = nodes
    scenes = [await admitted_scene(a) for _ in range(3)]
    reads: list[set[str]] = []

    def seen(
        _conn: object, _cursor: object, statement: str, parameters: object, *_: object
    ) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "FROM notes_updates" in statement:
            values = parameters.values() if isinstance(parameters, dict) else parameters
            reads.append({str(v) for v in values} if isinstance(values, Iterable) else set())

    engine = b.services.store.engine.sync_engine  # the notes store's
    event.listen(engine, "before_cursor_execute", seen)
    try:
        async with contextlib.AsyncExitStack() as stack:
            for scene in scenes:
                await stack.enter_async_context(yclient(b, scene.session_id, scene.guest_http))
            reads.clear()

            async def two_turns() -> bool:
                return len(reads) >= 2

            await wait_for(two_turns, timeout=10)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    wanted = {scene.session_id for scene in scenes}
    for parameters in reads[:2]:
        assert wanted <= parameters, parameters
