"""The screens the browser tests use (Playwright context options): a desktop window, the phone
the pages are checked on (390x844, an iPhone 12-15), and a smaller phone (360x640) for pages
that must also fit one."""

from __future__ import annotations

from typing import Any

DESKTOP: dict[str, Any] = {"viewport": {"width": 1280, "height": 800}}
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
}
SMALL_PHONE: dict[str, Any] = {
    "viewport": {"width": 360, "height": 640},
    "is_mobile": True,
    "has_touch": True,
}
