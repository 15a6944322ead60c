"""The ids a node mints for its rooms: unique, the sizes the wire has always had, and no trip to
the operating system per id (issue 8: each such trip released the GIL to the SQL threads in the
middle of a burst of joins)."""

from __future__ import annotations

import os
import re

import pytest

from server.live.rooms.ids import IdMint


def test_ids_are_unique_and_keep_their_sizes() -> None:
    mint = IdMint()
    peers = {mint.hex(6) for _ in range(10_000)}
    assert len(peers) == 10_000
    assert all(re.fullmatch(r"[0-9a-f]{12}", p) for p in peers)
    assert re.fullmatch(r"[0-9a-f]{32}", mint.hex(16))


def test_two_nodes_mint_different_ids() -> None:
    assert IdMint().hex(16) != IdMint().hex(16)
    assert IdMint(b"k" * 32).hex(16) == IdMint(b"k" * 32).hex(16)  # the key is all there is


def test_minting_asks_the_operating_system_only_for_the_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mint = IdMint()

    def refuse(_size: int) -> bytes:
        raise AssertionError("os.urandom called per id")

    monkeypatch.setattr(os, "urandom", refuse)
    mint.hex(6)
    mint.hex(16)
