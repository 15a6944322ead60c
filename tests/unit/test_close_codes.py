"""One table of close codes (DESIGN.md §2): the web client's mirror says the same."""

from __future__ import annotations

import re
from pathlib import Path

from signaling import close_codes

WEB = Path(__file__).resolve().parents[2] / "web" / "static" / "close-codes.js"


def test_the_web_client_mirrors_every_close_code_with_its_name() -> None:
    text = WEB.read_text()
    names = dict(re.findall(r'\[(\d{4}), "([a-z-]+)"\]', text))
    assert {int(code): name for code, name in names.items()} == close_codes.NAMES
    constants = dict(re.findall(r"^\s+([A-Z_]+): (\d{4}),$", text, flags=re.M))
    assert {int(code) for code in constants.values()} == set(close_codes.NAMES)
    for name, code in constants.items():
        assert getattr(close_codes, f"CLOSE_{name}") == int(code)


def test_the_web_client_tells_the_same_4403_reasons_apart() -> None:
    """An origin refusal and a mentor's denial are both 4403; the reason names which."""
    text = WEB.read_text()
    [listed] = re.findall(r"NOT_ALLOWED_REASONS = Object\.freeze\(\[([^\]]*)\]\)", text)
    assert tuple(re.findall(r'"([a-z-]+)"', listed)) == close_codes.NOT_ALLOWED_REASONS
    assert "code === CLOSE.NOT_ALLOWED && NOT_ALLOWED_REASONS.includes(reason)" in text
