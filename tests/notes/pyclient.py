"""A y-websocket client for tests, built on pycrdt (the same engine as the server, but used as
any Yjs client would: sync step 1/2 on connect, an update frame per local change)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from pycrdt import Doc, Text
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from session_notes import (
    SyncStep1,
    SyncStep2,
    SyncUpdate,
    parse_frame,
    sync_step1_frame,
    sync_step2_frame,
    update_frame,
)
from tests.rooms.client import cookie_header
from tests.support import RunningServer, wait_for


class YClient:
    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.doc: Doc[Any] = Doc()
        self.text = self.doc.get("notes", type=Text)
        self._reader = asyncio.create_task(self._read())
        self.synced = asyncio.Event()

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for frame in self.ws:
                assert isinstance(frame, bytes)
                message = parse_frame(frame)
                if isinstance(message, SyncStep1):
                    missing = self.doc.get_update(message.state_vector)
                    await self.ws.send(sync_step2_frame(missing))
                elif isinstance(message, SyncStep2 | SyncUpdate):
                    self.doc.apply_update(message.update)
                    if isinstance(message, SyncStep2):
                        self.synced.set()

    async def start(self) -> None:
        await self.ws.send(sync_step1_frame(self.doc.get_state()))
        async with asyncio.timeout(5):
            await self.synced.wait()

    async def type(self, text: str) -> None:
        """Append ``text`` as a user would, one update per call."""
        before = self.doc.get_state()
        self.text += text
        await self.ws.send(update_frame(self.doc.get_update(before)))

    async def wait_text(self, expected: str, timeout: float = 5) -> None:
        async def arrived() -> bool:
            return str(self.text) == expected

        await wait_for(arrived, timeout=timeout)

    async def closed(self, timeout: float = 5) -> int | None:
        async with asyncio.timeout(timeout):
            await self.ws.wait_closed()
        return self.ws.close_code

    async def stop(self) -> None:
        self._reader.cancel()
        await self.ws.close()


@contextlib.asynccontextmanager
async def yclient(
    server: RunningServer, session_id: str, http: httpx.AsyncClient, *, start: bool = True
) -> AsyncIterator[YClient]:
    url = server.url.replace("http://", "ws://") + f"/ws/notes/{session_id}"
    async with connect(
        url,
        origin=server.url,  # type: ignore[arg-type]
        additional_headers={"Cookie": cookie_header(http)},
        compression=None,
        max_size=2**21,
    ) as ws:
        client = YClient(ws)
        if start:
            await client.start()
        try:
            yield client
        finally:
            client._reader.cancel()
