"""The server-side media peer (aiortc): forwarding and recording in routed mode (DESIGN.md §3).

Not built yet: rooms run in direct mode, browser to browser.
"""
