"""The lighter WebSocket protocol under uvicorn (server/serving.py): uvicorn still uses the
attributes it replaces, sockets still carry frames and closes, and its small queue and flag
behave like asyncio's where uvicorn and the sockets rely on them."""

from __future__ import annotations

import asyncio
import contextlib

import uvicorn
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import connect

from server.serving import LeanWebSocketProtocol, _Inbox, uvicorn_config
from server.sockets.connection import Flag
from tests.support import free_port, wait_for


async def test_uvicorn_serves_sockets_through_the_lean_protocol() -> None:
    disconnected = asyncio.Event()

    async def echo(websocket: WebSocket) -> None:
        assert websocket.headers["x-probe"] == "kept in the scope"
        await websocket.accept()
        try:
            while True:
                await websocket.send_text(await websocket.receive_text())
        except WebSocketDisconnect:
            disconnected.set()

    port = free_port()
    server = uvicorn.Server(
        uvicorn_config(Starlette(routes=[WebSocketRoute("/echo", echo)]), "127.0.0.1", port)
    )
    serving = asyncio.create_task(server.serve())

    async def started() -> bool:
        return server.started

    await wait_for(started, timeout=10)
    try:
        async with connect(
            f"ws://127.0.0.1:{port}/echo", additional_headers={"X-Probe": "kept in the scope"}
        ) as ws:
            await ws.send("hello")
            assert await ws.recv() == "hello"
            [protocol] = [
                c for c in server.server_state.connections if isinstance(c, LeanWebSocketProtocol)
            ]
            # uvicorn's own attributes, replaced or dropped once the handshake is done.
            assert isinstance(protocol.queue, _Inbox)
            assert isinstance(protocol.writable, Flag)
            assert not hasattr(protocol, "request")
            assert not hasattr(protocol, "response")
            for _ in range(50):  # more than uvicorn's queue holds at once
                await ws.send("again")
                assert await ws.recv() == "again"
        await asyncio.wait_for(disconnected.wait(), timeout=5)
    finally:
        server.should_exit = True
        await serving


async def test_the_inbox_hands_items_in_order_and_passes_on_a_cancelled_wake_up() -> None:
    inbox = _Inbox()
    inbox.put_nowait(1)
    inbox.put_nowait(2)
    assert not inbox.empty()
    assert [await inbox.get(), await inbox.get()] == [1, 2]
    assert inbox.empty()

    first = asyncio.create_task(inbox.get())
    second = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)  # both wait
    inbox.put_nowait("item")  # wakes the first ...
    first.cancel()  # ... which is cancelled before it takes it: the second must get it
    with contextlib.suppress(asyncio.CancelledError):
        await first
    assert await asyncio.wait_for(second, timeout=1) == "item"

    waiting = asyncio.create_task(inbox.get())
    await asyncio.sleep(0)
    waiting.cancel()  # a waiter cancelled before any item leaves nothing behind
    with contextlib.suppress(asyncio.CancelledError):
        await waiting
    inbox.put_nowait("later")
    assert await inbox.get() == "later"


async def test_the_flag_wakes_every_waiter_and_survives_a_cancelled_one() -> None:
    flag = Flag()
    assert not flag.is_set()
    waiters = [asyncio.create_task(flag.wait()) for _ in range(3)]
    await asyncio.sleep(0)
    waiters[0].cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await waiters[0]
    flag.set()
    await asyncio.wait_for(asyncio.gather(*waiters[1:]), timeout=1)
    assert flag.is_set()
    await flag.wait()  # already set: returns at once
    flag.clear()
    assert not flag.is_set()
    again = asyncio.create_task(flag.wait())
    await asyncio.sleep(0)
    assert not again.done()
    flag.set()
    await asyncio.wait_for(again, timeout=1)
