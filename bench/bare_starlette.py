"""The stack's floor: the bare relay of ``bare_relay.py`` as a Starlette app, served by uvicorn as
Preceptor is (``server.serving``: the same protocol, parser, loop, keepalive and garbage
collector's schedule), with nothing of Preceptor's own: no sign-in, no policy, no room, no record.

Beside the bare ``websockets`` relay it shows what the design card's fixed stack costs before
any of our work; beside Preceptor, what our work costs on top of it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.serving import DrainingServer, uvicorn_config

rooms: dict[str, set[WebSocket]] = {}


async def relay(ws: WebSocket) -> None:
    await ws.accept()
    first = json.loads(await ws.receive_text())
    room = rooms.setdefault(first["room"], set())
    room.add(ws)
    await ws.send_text('{"type":"welcome"}')
    try:
        while True:
            frame = await ws.receive_text()
            for other in room:
                if other is not ws:
                    await other.send_text(frame)
    except WebSocketDisconnect:
        pass
    finally:
        room.discard(ws)


async def nothing_to_drain() -> None:
    pass


if __name__ == "__main__":
    app = Starlette(routes=[WebSocketRoute("/", relay)])
    DrainingServer(uvicorn_config(app, "127.0.0.1", int(sys.argv[1])), nothing_to_drain).run()
