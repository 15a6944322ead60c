"""Stock Yjs clients (Node: `yjs` + `y-websocket` from npm) against the real server."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.rooms.client import cookie_header
from tests.support import Scene

YCLIENT = Path(__file__).with_name("yclient.mjs")
WEB_MODULES = Path(__file__).parents[2] / "web/node_modules/yjs"

pytestmark = pytest.mark.skipif(
    shutil.which("node") is None or not WEB_MODULES.exists(),
    reason="needs node and web/node_modules (make web)",
)


async def run_client(
    script: dict[str, Any], timeout: float = 60
) -> tuple[str, list[dict[str, Any]]]:
    process = await asyncio.create_subprocess_exec(
        "node",
        str(YCLIENT),
        json.dumps(script),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(timeout):
        out, err = await process.communicate()
    events = [json.loads(line) for line in out.decode().splitlines() if line.strip()]
    assert process.returncode == 0, (err.decode(), events[-3:])
    return events[-1]["text"], events


def script(scene: Scene, who: str, actions: list[dict[str, Any]]) -> dict[str, Any]:
    http = scene.mentor_http if who == "mentor" else scene.guest_http
    base = scene.server.url
    return {
        "url": base.replace("http://", "ws://") + "/ws/notes",
        "room": scene.session_id,
        "cookie": cookie_header(http),
        "origin": base,
        "name": who,
        "actions": actions,
    }


def typing(prefix: str, other: str, count: int = 15) -> list[dict[str, Any]]:
    """Words appended at the end, each in its own transaction, 15 ms apart."""
    actions: list[dict[str, Any]] = [{"type": "wait_synced"}]
    for n in range(1, count + 1):
        actions += [{"type": "insert", "text": f"{prefix}{n} "}, {"type": "sleep", "ms": 15}]
    return [
        *actions,
        {"type": "wait_text_includes", "text": f"{other}{count} "},
        {"type": "sleep", "ms": 300},
    ]


async def test_two_stock_clients_typing_at_once_converge(scene: Scene) -> None:
    (mentor_text, _), (trainee_text, _) = await asyncio.gather(
        run_client(script(scene, "mentor", typing("M", "T"))),
        run_client(script(scene, "trainee", typing("T", "M"))),
    )
    assert mentor_text == trainee_text
    words = mentor_text.split()
    assert sorted(words) == sorted(
        [f"M{n}" for n in range(1, 16)] + [f"T{n}" for n in range(1, 16)]
    )
    server_text = (await scene.mentor_http.get(f"/api/sessions/{scene.session_id}/notes")).json()
    assert server_text["text"] == mentor_text


async def test_an_offline_client_merges_when_it_returns(scene: Scene) -> None:
    offline = script(
        scene,
        "trainee",
        [
            {"type": "wait_synced"},
            {"type": "insert", "text": "Shared start. "},
            {"type": "disconnect"},
            {"type": "insert", "text": "Written on the train."},
            {"type": "sleep", "ms": 1500},
            {"type": "connect"},
            {"type": "wait_synced"},
            {"type": "wait_text_includes", "text": "Added while you were away."},
            {"type": "sleep", "ms": 300},
        ],
    )
    online = script(
        scene,
        "mentor",
        [
            {"type": "wait_synced"},
            {"type": "wait_text_includes", "text": "Shared start."},
            {"type": "insert", "text": " Added while you were away."},
            {"type": "wait_text_includes", "text": "Written on the train."},
            {"type": "sleep", "ms": 300},
        ],
    )
    (offline_text, _), (online_text, _) = await asyncio.gather(
        run_client(offline), run_client(online)
    )
    assert offline_text == online_text
    for part in ("Shared start.", "Written on the train.", "Added while you were away."):
        assert part in offline_text
    history = (
        await scene.mentor_http.get(f"/api/sessions/{scene.session_id}/notes/history")
    ).json()
    authors = {r["author_name"] for r in history["authored"] if r["text"].strip()}
    assert authors == {"Test Mentor", "Sam Student"}
