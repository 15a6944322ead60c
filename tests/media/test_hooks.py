"""The private aiortc/aioice hook points are checked in one place, and the check has teeth."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from aiortc import RTCDtlsTransport

from media.hooks import HookPointMovedError, check_hook_points

ROOT = Path(__file__).resolve().parents[2]


def test_the_installed_aiortc_and_aioice_have_every_hook_point() -> None:
    check_hook_points()


def test_a_moved_hook_point_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    async def _recv_next(self: RTCDtlsTransport) -> None:  # a "new version" that routes RTCP itself
        return None

    monkeypatch.setattr(RTCDtlsTransport, "_recv_next", _recv_next)
    with pytest.raises(HookPointMovedError, match="_handle_rtcp_data"):
        check_hook_points()


def test_a_different_aiortc_version_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("media.hooks.metadata.version", lambda package: "2.0.0")
    with pytest.raises(HookPointMovedError, match=r"aiortc 2\.0\.0"):
        check_hook_points()


def test_aiortc_and_aioice_are_imported_only_inside_media() -> None:
    offenders = []
    for package in ("server", "signaling", "session_notes"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                names = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module]
                if any(n.split(".")[0] in ("aiortc", "aioice") for n in names):
                    offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []
