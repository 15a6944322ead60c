"""The abusive account of tests/faults/test_flood.py, in a process of its own: its 600
handshakes would otherwise share the event loop that times the other room's relay, and the
probe would measure the test's own client rather than the server.

    python -m tests.faults.flood_client URL ORIGIN COOKIE SOCKETS SECONDS CHATS

prints one JSON line: {"closes": [close codes], "refused": handshakes refused}."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from signaling import Chat, Join, serialize


async def flood(
    url: str, origin: str, cookie: str, sockets: int, seconds: float, chats: int
) -> dict[str, object]:
    closes: list[int | None] = []
    refused = 0

    async def one_socket() -> None:
        nonlocal refused
        try:
            async with connect(
                url, origin=origin, additional_headers={"Cookie": cookie}, open_timeout=10
            ) as ws:  # type: ignore[arg-type]
                with contextlib.suppress(ConnectionClosed):
                    await ws.send(serialize(Join()))
                    for n in range(chats):
                        await ws.send(serialize(Chat(text=f"spam {n}")))
                    async with asyncio.timeout(20):
                        async for _ in ws:
                            pass
                closes.append(ws.close_code)
        except (InvalidStatus, OSError, TimeoutError):
            refused += 1

    tasks: list[asyncio.Task[None]] = []
    for _ in range(sockets):
        tasks.append(asyncio.create_task(one_socket()))
        await asyncio.sleep(seconds / sockets)
    await asyncio.wait(tasks, timeout=30)
    return {"closes": closes, "refused": refused}


def main() -> None:
    url, origin, cookie, sockets, seconds, chats = sys.argv[1:7]
    found = asyncio.run(flood(url, origin, cookie, int(sockets), float(seconds), int(chats)))
    print(json.dumps(found))


if __name__ == "__main__":
    main()
