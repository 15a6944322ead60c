"""HTML pages. They are static shells; ES modules under /static fetch the data they show."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

__all__ = ["PAGES", "page_routes"]


PAGES = {"/": "index", "/sessions/{session_id}": "session", "/join/{token}": "join"}


def page_routes(web_dir: Path) -> list[BaseRoute]:
    def page(url: str, name: str) -> Route:
        path = web_dir / "pages" / f"{name}.html"

        async def endpoint(_request: Request) -> Response:
            # no-store: the join page's URL carries an invite token; no page is worth caching.
            return FileResponse(path, headers={"Cache-Control": "no-store"})

        endpoint.__name__ = f"page_{name}"
        return Route(url, endpoint, methods=["GET"])

    return [
        *(page(url, name) for url, name in PAGES.items()),
        Mount("/static", app=StaticFiles(directory=web_dir / "static"), name="static"),
    ]
