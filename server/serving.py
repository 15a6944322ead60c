"""How uvicorn serves the app: one place, used by ``preceptor serve`` and by the tests."""

from __future__ import annotations

import uvicorn
from starlette.applications import Starlette

__all__ = ["uvicorn_config"]


def uvicorn_config(app: Starlette, host: str, port: int) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        # Compression costs most of the memory and tail latency of small signaling frames
        # (DESIGN.md §5).
        ws_per_message_deflate=False,
        # uvicorn refuses larger frames with 1009. Each socket enforces its own, smaller limit
        # (signaling 64 KiB, notes 512 KiB) with the same close code.
        ws_max_size=1 << 20,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        access_log=False,
        log_config=None,
        proxy_headers=False,
        lifespan="on",
    )
