"""The baseline: a bare `websockets` relay, no framework, no auth, no parsing beyond pairing.

Each client's first frame is ``{"room": "<id>"}``; after that every frame is forwarded as is
to the other member of the room. It shows what the protocol costs with nothing else on top.
"""

from __future__ import annotations

import asyncio
import json
import sys

from websockets.asyncio.server import ServerConnection, serve

rooms: dict[str, set[ServerConnection]] = {}


async def handler(ws: ServerConnection) -> None:
    first = json.loads(await ws.recv())
    room = rooms.setdefault(first["room"], set())
    room.add(ws)
    await ws.send('{"type":"welcome"}')
    try:
        async for frame in ws:
            for other in room:
                if other is not ws:
                    await other.send(frame)
    finally:
        room.discard(ws)


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, compression=None, max_size=65536):
        print("ready", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    # The same event loop uvicorn picks (uvloop when installed), so the two compare fairly.
    try:
        import uvloop
    except ImportError:
        asyncio.run(main(int(sys.argv[1])))
    else:
        uvloop.run(main(int(sys.argv[1])))
